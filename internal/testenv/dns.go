package testenv

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
)

// SilentDNS is a DNS server on a loopback UDP port that reads every query
// and answers none: a name server that has gone away, or one an attacker
// slows down. Resolver sends its queries there.
type SilentDNS struct {
	Addr string // 127.0.0.1:PORT
	conn net.PacketConn
	n    atomic.Int64
}

// StartSilentDNS starts a SilentDNS on a free port of 127.0.0.1 and stops
// it when the test ends.
func StartSilentDNS(t testing.TB) *SilentDNS {
	t.Helper()
	return StartSilentDNSOn(t, "127.0.0.1:0")
}

// StartSilentDNSOn starts a SilentDNS on the loopback UDP address addr
// (port 53 of an address of 127.0.0.0/8 serves a resolv.conf, which names
// no port) and stops it when the test ends.
func StartSilentDNSOn(t testing.TB, addr string) *SilentDNS {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("silent DNS server: %v", err)
	}
	s := &SilentDNS{Addr: c.LocalAddr().String(), conn: c}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			s.n.Add(1)
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return s
}

// Queries returns how many queries arrived so far.
func (s *SilentDNS) Queries() int64 { return s.n.Load() }

// Resolver returns Go's own resolver sending every query (UDP or TCP) to s
// instead of the servers in /etc/resolv.conf.
func (s *SilentDNS) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", s.Addr)
		},
	}
}
