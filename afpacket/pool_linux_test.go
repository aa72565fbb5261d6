//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// poolOpener starts a Pool for the test and returns an opener that waits
// for a spare before each open, so that every open takes the pooled path.
func poolOpener(t *testing.T) func(string, afpacket.Config) (*afpacket.Conn, error) {
	p, err := afpacket.NewPool(t.Context(), 1, afpacket.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Cleanup(func() {
		if n := afpacket.PoolHits(p); n == 0 {
			t.Error("no open was served from a spare")
		}
	})
	return func(name string, cfg afpacket.Config) (*afpacket.Conn, error) {
		waitSpare(t, p)
		return p.Open(name, cfg)
	}
}

// waitSpare waits until p holds a spare, failing the test after 5 s.
func waitSpare(t testing.TB, p *afpacket.Pool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); afpacket.PoolSpares(p) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("pool made no spare in 5s")
		}
	}
}

// TestPoolCapture opens handles from a pool, with geometries it was and
// was not started with, and checks each one captures exactly the frames
// its filter admits, and that the pool refills and Close empties it.
func TestPoolCapture(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	small := afpacket.Config{BlockSize: 1 << 16, NumBlocks: 4, BlockTimeout: 2 * time.Millisecond}
	p, err := afpacket.NewPool(context.Background(), 1, small)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	for i, tc := range []struct {
		name   string
		cfg    afpacket.Config
		pooled bool // a spare of this geometry exists before the open
	}{
		{"started geometry", small, true},
		{"again after refill", small, true},
		{"new geometry, cold", afpacket.Config{BlockSize: 1 << 17, NumBlocks: 2}, false},
		{"new geometry, warm", afpacket.Config{BlockSize: 1 << 17, NumBlocks: 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Filter = etherTypeFilter(t, testEtherType, 65535)
			cfg.Promiscuous = true
			if tc.pooled {
				for end := time.Now().Add(5 * time.Second); afpacket.PoolSpareFor(p, cfg) == 0; time.Sleep(time.Millisecond) {
					if time.Now().After(end) {
						t.Fatal("no spare of this geometry in 5s")
					}
				}
			}
			hits := afpacket.PoolHits(p)
			c, err := p.Open(pair.Host, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if pooled := afpacket.PoolHits(p) > hits; pooled != tc.pooled {
				t.Fatalf("served from a spare: %v, want %v", pooled, tc.pooled)
			}
			if c.LinkType() != afpacket.LinkTypeEthernet {
				t.Fatalf("LinkType = %d, want Ethernet", c.LinkType())
			}
			noise := frame(pair.HostMAC, pair.PeerMAC, nil, 0, 60)
			binary.BigEndian.PutUint16(noise[12:], testEtherType+1)
			var want [][]byte
			for j := range 20 {
				want = append(want, frame(pair.HostMAC, pair.PeerMAC, nil, uint32(i*100+j), 64+j*50))
			}
			if err := pair.Send(append([][]byte{noise, noise}, want...)); err != nil {
				t.Fatal(err)
			}
			got := collect(t, c, len(want), 100*time.Millisecond)
			if len(got) != len(want) {
				t.Fatalf("captured %d frames, want %d", len(got), len(want))
			}
			for j := range got {
				if !bytes.Equal(got[j].Data, want[j]) {
					t.Fatalf("frame %d is\n%x, want\n%x", j, got[j].Data, want[j])
				}
			}
		})
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := afpacket.PoolSpares(p); n != 0 {
		t.Fatalf("after Close the pool holds %d spares", n)
	}
	if _, err := p.Open(pair.Host, small); err != nil { // served the slow way
		t.Fatalf("Open after Close: %v", err)
	}
}

// ringMappings counts the mappings of packet sockets in this process.
func ringMappings(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "socket:[")
}

// TestPoolSpareNotMapped: a spare's ring is the kernel's memory until the
// handle made of it first reads (so an idle daemon's resident memory does
// not hold it, and the open that arms the socket does not wait for the
// mapping of every page).
func TestPoolSpareNotMapped(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	cfg := afpacket.Config{BlockSize: 1 << 20, NumBlocks: 16, Filter: etherTypeFilter(t, testEtherType, 65535), BlockTimeout: time.Millisecond}
	p, err := afpacket.NewPool(context.Background(), 1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	waitSpare(t, p)
	before := ringMappings(t)
	c, err := p.Open(pair.Host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if afpacket.PoolHits(p) != 1 {
		t.Fatal("the open was not served by the spare")
	}
	if n := ringMappings(t); n != before {
		t.Fatalf("%d ring mappings after the open, %d before: the spare's ring is mapped", n, before)
	}
	// Frames sent before the first read are in the ring all the same.
	sent := frame(pair.HostMAC, pair.PeerMAC, nil, 7, 100)
	if err := pair.Send([][]byte{sent}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, 1, time.Second)
	if len(got) != 1 || !bytes.Equal(got[0].Data, sent) {
		t.Fatalf("read %d frames, want the one sent", len(got))
	}
	if n := ringMappings(t); n != before+1 {
		t.Errorf("%d ring mappings after the first read, want %d", n, before+1)
	}
}
