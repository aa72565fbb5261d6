//go:build !linux

package afpacket

import (
	"context"
	"time"
)

func (*handle) keep(dst []Block) ([]Block, error) { return dst, errUnimplemented }
func (*handle) releaseKept(int)                   {}
func (*handle) keptBlocks() int                   { return 0 }
func (*handle) ringBlocks() int                   { return 0 }
func (*handle) ringBlockSize() int                { return 0 }
func (*handle) fillingKept() int                  { return 0 }
func (*handle) skipsFrames() bool                 { return false }
func (*handle) measure(Block, RecordFormat, Limits) Count {
	return Count{}
}
func (*handle) compact(Block, RecordFormat, Limits) ([]byte, Count) { return nil, Count{} }
func (*handle) walk(Block, func(*Packet) bool)                      {}
func (*handle) free() error                                         { return nil }

func newMemConn([]byte, MemConfig) (*Conn, error) { return nil, errUnimplemented }

func (*handle) waitKeep(context.Context, time.Duration) error { return errUnimplemented }

func (*handle) stop() error { return errUnimplemented }
