//go:build !linux

package afpacket

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"
)

// A handle is empty outside Linux: there are no packet sockets.
type handle struct {
	linkType uint32
	snaplen  int
}

// errUnimplemented is returned by every operation outside Linux.
var errUnimplemented = fmt.Errorf("afpacket: not implemented on %s", runtime.GOOS)

func open(ifname string, _ Config) (*Conn, error) {
	return nil, &net.OpError{Op: "open", Net: network, Addr: &Addr{Interface: ifname}, Err: errUnimplemented}
}

func (*handle) readPacket(context.Context, time.Time) (Packet, error) {
	return Packet{}, errUnimplemented
}

func (*handle) nextPacket(context.Context, time.Time) (*Packet, error) {
	return nil, errUnimplemented
}

func (*handle) stats() (Stats, error) { return Stats{}, errUnimplemented }

func (*handle) close() error { return errUnimplemented }

func checkCapability() error { return errUnimplemented }
