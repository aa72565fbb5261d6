//go:build !linux

package afpacket

import "context"

// poolState is empty outside Linux: there is nothing to prepare.
type poolState struct{}

func newPool(context.Context, int, []Config) (*Pool, error) { return &Pool{}, nil }

func (*Pool) open(ifname string, cfg Config) (*Conn, error) { return open(ifname, cfg) }

func (*Pool) close() error { return nil }

func (*Pool) ready(Config) bool { return false }
