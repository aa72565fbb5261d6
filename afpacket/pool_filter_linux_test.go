//go:build linux

package afpacket_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/net/bpf"
)

// TestPoolSpareFilter checks the program a Pool attaches to its spares
// ahead of time: the spares made after an open carry the program that
// open armed its socket with, and every open captures with its own
// program whatever its spare carried — the same one, another one, none,
// or the snap-length-only program of a capture without a filter.
func TestPoolSpareFilter(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	geo := afpacket.Config{BlockSize: 1 << 16, NumBlocks: 4, BlockTimeout: 2 * time.Millisecond}
	p, err := afpacket.NewPool(context.Background(), 1, geo)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	const typeA, typeB = testEtherType, testEtherType + 1
	progA := etherTypeFilter(t, typeA, 65535)
	progB := etherTypeFilter(t, typeB, 65535)
	snap100 := assemble(t, bpf.RetConstant{Val: 100})
	var prev []bpf.RawInstruction // the program the previous open armed its socket with
	for i, tc := range []struct {
		name    string
		filter  []bpf.RawInstruction
		snaplen int
		want    []uint16 // the EtherTypes captured
		armed   []bpf.RawInstruction
	}{
		{"first program", progA, 0, []uint16{typeA}, progA},
		{"same program, from the spare", progA, 0, []uint16{typeA}, progA},
		{"another program", progB, 0, []uint16{typeB}, progB},
		{"no program", nil, 0, []uint16{typeA, typeB}, nil},
		{"a program after none", progA, 0, []uint16{typeA}, progA},
		{"snap length only", nil, 100, []uint16{typeA, typeB}, snap100},
		{"no program after snap length only", nil, 0, []uint16{typeA, typeB}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := geo
			cfg.Filter, cfg.Snaplen = tc.filter, tc.snaplen
			for end := time.Now().Add(5 * time.Second); afpacket.PoolSpareFor(p, cfg) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(end) {
					t.Fatal("no spare in 5s")
				}
			}
			if got := afpacket.PoolSpareFilter(p, cfg); i > 0 && !slices.Equal(got, prev) {
				t.Fatalf("the spare carries %v, want the previous open's program %v", got, prev)
			}
			hits := afpacket.PoolHits(p)
			c, err := p.Open(pair.Host, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if afpacket.PoolHits(p) == hits {
				t.Fatal("the open was not served by the spare")
			}
			prev = tc.armed

			var frames [][]byte
			for j := range 10 {
				for _, typ := range []uint16{typeA, typeB} {
					f := frame(pair.HostMAC, pair.PeerMAC, nil, uint32(j), 200)
					binary.BigEndian.PutUint16(f[12:], typ)
					frames = append(frames, f)
				}
			}
			if err := pair.Send(frames); err != nil {
				t.Fatal(err)
			}
			got, maxLen := countTypes(t, c, 100*time.Millisecond)
			for _, typ := range []uint16{typeA, typeB} {
				want := 0
				if slices.Contains(tc.want, typ) {
					want = 10
				}
				if got[typ] != want {
					t.Errorf("captured %d frames of EtherType %#x, want %d", got[typ], typ, want)
				}
			}
			if tc.snaplen > 0 && maxLen > tc.snaplen {
				t.Errorf("captured %d bytes of a frame, the snap length is %d", maxLen, tc.snaplen)
			}
		})
	}
}

// countTypes reads c until no frame came for quiet and counts the frames
// of each EtherType; it returns the longest capture length too.
func countTypes(t *testing.T, c *afpacket.Conn, quiet time.Duration) (map[uint16]int, int) {
	t.Helper()
	n := map[uint16]int{}
	longest := 0
	for range 10000 {
		p, err := c.ReadPacket(context.Background(), time.Now().Add(quiet))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, longest
		}
		if err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
		if len(p.Data) >= 14 {
			n[binary.BigEndian.Uint16(p.Data[12:])]++
		}
		longest = max(longest, len(p.Data))
	}
	t.Fatal("frames kept coming")
	return nil, 0
}
