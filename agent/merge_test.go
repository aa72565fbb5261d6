package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// ngFile is a pcapng file read back by parseNG (only the blocks the agent
// writes).
type ngFile struct {
	ifaces []readIDB
	pkts   []readEPB
	stats  []readISB
}

type readIDB struct {
	LinkType uint16
	Snaplen  uint32
	Name     string
	Tsresol  byte
}

type readEPB struct {
	IfID uint32
	TS   int64
	Wire uint32
	Data []byte
}

type readISB struct {
	IfID      uint32
	Received  uint64 // isb_filteraccept
	Drops     uint64 // isb_osdrop
	Delivered uint64 // isb_usrdeliv
	HasKernel bool
}

// parseNG reads a little-endian pcapng section: SHB first, then IDBs, EPBs
// and ISBs in any order, every length checked.
func parseNG(data []byte) (*ngFile, error) {
	f := &ngFile{}
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return nil, fmt.Errorf("offset %d: %d bytes left, too few for a block", off, len(data)-off)
		}
		typ, n := le.Uint32(data[off:]), int(le.Uint32(data[off+4:]))
		if n < 12 || n%4 != 0 || n > len(data)-off || int(le.Uint32(data[off+n-4:])) != n {
			return nil, fmt.Errorf("offset %d: bad block length %d", off, n)
		}
		b := data[off+8 : off+n-4]
		if off == 0 && (typ != ngSHB || len(b) < 16 || le.Uint32(b) != 0x1A2B3C4D) {
			return nil, fmt.Errorf("no section header block first")
		}
		opts := func(body []byte) (map[uint16][]byte, error) {
			m := map[uint16][]byte{}
			for len(body) >= 4 {
				code, l := le.Uint16(body), int(le.Uint16(body[2:]))
				if code == ngOptEnd {
					return m, nil
				}
				if 4+l > len(body) {
					return nil, fmt.Errorf("offset %d: option %d runs past its block", off, code)
				}
				m[code] = body[4 : 4+l]
				body = body[4+(l+3)&^3:]
			}
			return m, nil
		}
		switch typ {
		case ngIDB:
			if len(b) < 8 {
				return nil, fmt.Errorf("offset %d: short IDB", off)
			}
			o, err := opts(b[8:])
			if err != nil {
				return nil, err
			}
			idb := readIDB{LinkType: le.Uint16(b), Snaplen: le.Uint32(b[4:]), Name: string(o[ngOptIfName])}
			if r := o[ngOptIfTsresol]; len(r) == 1 {
				idb.Tsresol = r[0]
			}
			f.ifaces = append(f.ifaces, idb)
		case ngEPB:
			if len(b) < 20 {
				return nil, fmt.Errorf("offset %d: short EPB", off)
			}
			capLen := int(le.Uint32(b[12:]))
			if 20+capLen > len(b) || len(b)-20-capLen > 3 {
				return nil, fmt.Errorf("offset %d: EPB captured length %d in %d bytes", off, capLen, len(b))
			}
			id := le.Uint32(b)
			if int(id) >= len(f.ifaces) {
				return nil, fmt.Errorf("offset %d: EPB of interface %d before its IDB", off, id)
			}
			f.pkts = append(f.pkts, readEPB{
				IfID: id, TS: int64(uint64(le.Uint32(b[4:]))<<32 | uint64(le.Uint32(b[8:]))),
				Wire: le.Uint32(b[16:]), Data: b[20 : 20+capLen],
			})
		case ngISB:
			if len(b) < 12 {
				return nil, fmt.Errorf("offset %d: short ISB", off)
			}
			o, err := opts(b[12:])
			if err != nil {
				return nil, err
			}
			isb := readISB{IfID: le.Uint32(b)}
			u64 := func(v []byte) uint64 {
				if len(v) != 8 {
					return 0
				}
				return le.Uint64(v)
			}
			isb.Received, isb.Drops, isb.Delivered = u64(o[ngOptFilterAcc]), u64(o[ngOptOSDrop]), u64(o[ngOptUsrDeliv])
			_, isb.HasKernel = o[ngOptFilterAcc]
			f.stats = append(f.stats, isb)
		}
		off += n
	}
	return f, nil
}

// testPkt is one frame of a merge test: its interface, time and size.
type testPkt struct {
	IfID uint32
	TS   int64
	Size int
}

// epbBuffer writes pkts (all of one interface) as bare EPBs into a buffer
// of pool; each frame's bytes say which frame it is.
func epbBuffer(pool *chunkPool, pkts []testPkt) *buffer {
	b := newBuffer(pool)
	for _, p := range pkts {
		w := newPcapngEPBWriter(b, 1<<20, p.IfID)
		w.packet(p.TS, frameBytes(p), p.Size+7)
	}
	return b
}

// frameBytes is the content of a test frame: its interface and time,
// repeated.
func frameBytes(p testPkt) []byte {
	d := make([]byte, p.Size)
	for i := range d {
		d[i] = byte(int64(p.IfID)*31 + p.TS + int64(i))
	}
	return d
}

// seq returns n frames of interface id at start, start+step, ...
func seq(id uint32, n int, start, step int64, size int) []testPkt {
	out := make([]testPkt, n)
	for i := range out {
		out[i] = testPkt{id, start + int64(i)*step, size + i%5}
	}
	return out
}

func TestMergeEPBs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		chunk int // chunk size: small ones put blocks across chunk boundaries
		srcs  [][]testPkt
		nilAt int // this source is a nil buffer (-1: none)
	}{
		{"alternating", 4096, [][]testPkt{seq(0, 50, 1000, 20, 60), seq(1, 50, 1010, 20, 70)}, -1},
		{"alternating small chunks", 100, [][]testPkt{seq(0, 50, 1000, 20, 60), seq(1, 50, 1010, 20, 70)}, -1},
		{"frames larger than chunks", 64, [][]testPkt{seq(0, 10, 5, 3, 150), seq(1, 10, 6, 3, 200)}, -1},
		{"equal timestamps: lower interface first", 128, [][]testPkt{seq(0, 20, 100, 10, 30), seq(1, 20, 100, 10, 31), seq(2, 20, 100, 10, 32)}, -1},
		{"one empty source", 100, [][]testPkt{seq(0, 30, 1, 1, 40), nil, seq(2, 30, 1, 2, 44)}, -1},
		{"one nil source", 100, [][]testPkt{nil, seq(1, 30, 1, 1, 40)}, 0},
		{"runs", 256, [][]testPkt{append(seq(0, 10, 0, 1, 20), seq(0, 10, 100, 1, 20)...), seq(1, 10, 50, 1, 20)}, -1},
		{"one source", 64, [][]testPkt{seq(0, 40, 7, 7, 33)}, -1},
		{"all empty", 64, [][]testPkt{nil, nil}, -1},
		{"zero-length frames", 64, [][]testPkt{{{0, 5, 0}, {0, 6, 0}}, {{1, 5, 0}}}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := newChunkPool(tc.chunk, 1<<20)
			srcs := make([]*buffer, len(tc.srcs))
			var want []testPkt
			srcChunks := map[*byte]bool{}
			var total int64
			total0 := make([]int64, len(tc.srcs))
			for i, pkts := range tc.srcs {
				want = append(want, pkts...)
				if i == tc.nilAt {
					continue
				}
				srcs[i] = epbBuffer(pool, pkts)
				total0[i] = srcs[i].Len()
				total += srcs[i].Len()
				for _, c := range srcs[i].chunks {
					srcChunks[&c[0]] = true
				}
			}
			// A stable sort by time keeps the order of the sources on ties.
			slices.SortStableFunc(want, func(a, b testPkt) int {
				if a.TS != b.TS {
					return int(a.TS - b.TS)
				}
				return int(a.IfID) - int(b.IfID)
			})
			dst := newBuffer(pool)
			var visited []testPkt
			lim := noMergeLimits
			lim.visit = func(src int, ts int64, data []byte, wire int) {
				p := testPkt{uint32(src), ts, len(data)}
				if !bytes.Equal(data, frameBytes(p)) || wire != len(data)+7 {
					t.Errorf("visit of %+v: bytes or wire length differ", p)
				}
				visited = append(visited, p)
			}
			counts, err := mergeEPBs(dst, srcs, lim)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range counts {
				if c.packets != uint64(len(tc.srcs[i])) || i != tc.nilAt && c.bytes != total0[i] {
					t.Errorf("source %d: counted %+v, want %d packets in %d bytes", i, c, len(tc.srcs[i]), total0[i])
				}
			}
			if dst.Len() != total {
				t.Errorf("merged %d bytes, the sources held %d", dst.Len(), total)
			}
			for i, b := range srcs {
				if b != nil && (b.chunks != nil || b.Len() != 0) {
					t.Errorf("source %d still holds %d chunks", i, len(b.chunks))
				}
			}
			// The merge reuses what it has read: at most one new chunk per
			// source (the partly read ones) and one for dst's start.
			fresh := 0
			for _, c := range dst.chunks {
				if !srcChunks[&c[0]] {
					fresh++
				}
			}
			if fresh > len(srcs)+1 {
				t.Errorf("the merged buffer took %d new chunks, want at most %d", fresh, len(srcs)+1)
			}
			if got := len(dst.chunks) + len(pool.free); got < len(srcChunks) {
				t.Errorf("%d chunks in use or free after the merge, fewer than the %d the sources had", got, len(srcChunks))
			}

			f, err := parseNG(append(ngSectionForTest(len(tc.srcs)), readAll(t, dst)...))
			if err != nil {
				t.Fatal(err)
			}
			var got []testPkt
			for i, p := range f.pkts {
				tp := testPkt{p.IfID, p.TS, len(p.Data)}
				if !bytes.Equal(p.Data, frameBytes(tp)) || p.Wire != uint32(len(p.Data)+7) {
					t.Errorf("packet %d (%+v): bytes or wire length changed", i, tp)
				}
				got = append(got, tp)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("merged order (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, visited); diff != "" {
				t.Errorf("visited frames differ from the file's (-file +visited):\n%s", diff)
			}
		})
	}
}

// TestMergeEPBsLimits cuts the merge at a packet or byte limit: the file
// holds the first frames in time, the counts say whose, and every chunk
// of the sources goes back to the pool.
func TestMergeEPBsLimits(t *testing.T) {
	// Interface 0 at 0, 10, 20, ...; interface 1 at 5, 15, ...; 40 bytes
	// each, so every EPB is 72 bytes.
	a, b := seq(0, 20, 0, 10, 40), seq(1, 20, 5, 10, 40)
	for i := range a {
		a[i].Size, b[i].Size = 40, 40
	}
	for _, tc := range []struct {
		name  string
		lim   mergeLimits
		want  int // frames kept, in time order
		count [2]uint64
	}{
		{"packets", mergeLimits{packets: 7, bytes: 1 << 40}, 7, [2]uint64{4, 3}},
		{"bytes crossed", mergeLimits{packets: 1 << 40, bytes: 100 + 5*72 - 1}, 5, [2]uint64{3, 2}},
		{"bytes exact", mergeLimits{packets: 1 << 40, bytes: 100 + 5*72}, 5, [2]uint64{3, 2}},
		{"packets before bytes", mergeLimits{packets: 2, bytes: 100 + 5*72}, 2, [2]uint64{1, 1}},
		{"none", noMergeLimits, 40, [2]uint64{20, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := newChunkPool(100, 1<<20)
			srcs := []*buffer{epbBuffer(pool, a), epbBuffer(pool, b)}
			n := len(srcs[0].chunks) + len(srcs[1].chunks)
			dst := newBuffer(pool)
			dst.write(make([]byte, 100)) // a header of 100 bytes
			counts, err := mergeEPBs(dst, srcs, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if counts[0].packets != tc.count[0] || counts[1].packets != tc.count[1] ||
				counts[0].bytes != int64(72*tc.count[0]) || counts[1].bytes != int64(72*tc.count[1]) {
				t.Errorf("counts %+v, want %v frames of 72 bytes", counts, tc.count)
			}
			if want := int64(100 + 72*tc.want); dst.Len() != want {
				t.Errorf("merged file of %d bytes, want %d", dst.Len(), want)
			}
			f, err := parseNG(append(ngSectionForTest(2), readAll(t, dst)[100:]...))
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range f.pkts {
				if p.TS != int64(5*i) || p.IfID != uint32(i%2) {
					t.Errorf("frame %d: interface %d at %d, want %d at %d", i, p.IfID, p.TS, i%2, 5*i)
				}
			}
			dst.release()
			if len(pool.free) < n {
				t.Errorf("%d chunks back, the sources had %d", len(pool.free), n)
			}
		})
	}
}

// ngSectionForTest is a section header with n interfaces, for parseNG.
func ngSectionForTest(n int) []byte {
	pool := newChunkPool(4096, 4)
	b := newBuffer(pool)
	ifaces := make([]ngInterface, n)
	for i := range ifaces {
		ifaces[i] = ngInterface{name: fmt.Sprintf("if%d", i), linkType: 1, snaplen: 1 << 20}
	}
	writeNGHeader(b, ifaces)
	out, _ := io.ReadAll(b.data().NewReader())
	return out
}

func readAll(t testing.TB, b *buffer) []byte {
	t.Helper()
	out, err := io.ReadAll(b.data().NewReader())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMergeEPBsCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mangle func([]byte)
	}{
		{"block type", func(b []byte) { le.PutUint32(b[0:], ngISB) }},
		{"length too short", func(b []byte) { le.PutUint32(b[4:], 28) }},
		{"length not a multiple of 4", func(b []byte) { le.PutUint32(b[4:], 33) }},
		{"length past the end", func(b []byte) { le.PutUint32(b[4:], 1<<20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := newChunkPool(64, 1<<10)
			good := epbBuffer(pool, seq(0, 10, 0, 2, 40))
			bad := epbBuffer(pool, seq(1, 10, 1, 2, 40))
			// Corrupt bad's fourth block.
			raw := readAll(t, bad)
			off := 0
			for range 3 {
				off += int(le.Uint32(raw[off+4:]))
			}
			tc.mangle(raw[off:])
			bad.release()
			bad = newBuffer(pool)
			bad.write(raw)
			n := len(good.chunks) + len(bad.chunks)
			dst := newBuffer(pool)
			_, err := mergeEPBs(dst, []*buffer{good, bad}, noMergeLimits)
			if !errors.Is(err, errBadEPB) {
				t.Fatalf("mergeEPBs = %v, want errBadEPB", err)
			}
			dst.release()
			if len(pool.free) < n {
				t.Errorf("%d chunks back in the pool, want the sources' %d", len(pool.free), n)
			}
		})
	}
}

func TestNGHeaderLen(t *testing.T) {
	for _, names := range [][]string{nil, {"a"}, {"eth0", "eth1"}, {"abc", "abcd", "abcde", "abcdefghijklmno"}} {
		pool := newChunkPool(64, 4)
		b := newBuffer(pool)
		ifaces := make([]ngInterface, len(names))
		for i, n := range names {
			ifaces[i] = ngInterface{name: n, linkType: 1, snaplen: 100}
		}
		if n := writeNGHeader(b, ifaces); n != b.Len() || n != ngHeaderLen(names) {
			t.Errorf("%q: writeNGHeader wrote %d bytes, said %d, ngHeaderLen says %d", names, b.Len(), n, ngHeaderLen(names))
		}
		f, err := parseNG(readAll(t, b))
		if err != nil {
			t.Fatal(err)
		}
		for i, idb := range f.ifaces {
			if idb != (readIDB{LinkType: 1, Snaplen: 100, Name: names[i], Tsresol: 9}) {
				t.Errorf("IDB %d: %+v", i, idb)
			}
		}
	}
}

func TestMergeGroupTake(t *testing.T) {
	const header = 100
	for _, tc := range []struct {
		name    string
		packets int64
		bytes   int64
		frames  [][2]int64 // offered in order: timestamp, size
		reached int        // index of the frame that reaches a limit (-1: none)
		reason  StopReason
		after   []bool // ok for the frames offered after the stop
	}{
		// Each frame of 40 bytes is an EPB of 72.
		{"packets", 3, 1 << 40, [][2]int64{{10, 40}, {20, 40}, {30, 40}, {25, 40}, {30, 40}, {31, 40}}, 2, StopPackets,
			[]bool{true, true, false}},
		{"bytes crossed", 1 << 40, header + 150, [][2]int64{{10, 40}, {20, 40}, {30, 40}, {40, 40}}, 2, StopBytes, []bool{false}},
		{"bytes exact", 1 << 40, header + 144, [][2]int64{{10, 40}, {20, 40}, {5, 40}}, 1, StopBytes, []bool{true}},
		{"padding counts", 1 << 40, header + 36, [][2]int64{{1, 1}, {2, 1}}, 0, StopBytes, []bool{false}},
		// An older frame reaching the limit stops at the newest one seen.
		{"stop at the newest", 2, 1 << 40, [][2]int64{{50, 40}, {10, 40}, {40, 40}, {51, 40}}, 1, StopPackets, []bool{true, false}},
		{"no limit", 1 << 40, 1 << 40, [][2]int64{{1, 40}, {2, 40}}, -1, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cause := make(chan error, 1)
			g := newMergeGroup(&plan{packets: tc.packets, bytes: tc.bytes}, header, time.Unix(0, 0), time.Millisecond,
				func(err error) { cause <- err })
			defer g.end()
			stopAt := -1
			var after []bool
			for i, f := range tc.frames {
				r, ok := g.take(f[0], int(f[1]))
				if stopAt >= 0 {
					after = append(after, ok)
					continue
				}
				if !ok || r != "" && r != tc.reason {
					t.Fatalf("frame %d before the stop: take = %q, %v", i, r, ok)
				}
				if r != "" {
					stopAt = i
					g.stop(r)
				}
			}
			if stopAt != tc.reached || g.stopped() != tc.reason || !slices.Equal(after, tc.after) {
				t.Errorf("stopped at frame %d by %q, then took %v; want %d, %q, %v", stopAt, g.stopped(), after, tc.reached, tc.reason, tc.after)
			}
			if tc.reason == "" {
				return
			}
			select {
			case err := <-cause: // after the drain
				if r, ok := mergeReason(err); !ok || r != tc.reason {
					t.Errorf("cancel cause %v, want the group's stop %q", err, tc.reason)
				}
			case <-time.After(5 * time.Second):
				t.Error("the drain never ended the sessions' context")
			}
		})
	}
}

// TestMergeGroupTakeConcurrent has four sessions with interleaved
// timestamps race to the packet limit: each writes a prefix of its frames,
// and together they hold at least every frame up to the limit in time, so
// the merge can cut the file there.
func TestMergeGroupTakeConcurrent(t *testing.T) {
	const limit, sessions = 10000, 4
	g := newMergeGroup(&plan{packets: limit, bytes: 1 << 60}, 0, time.Unix(0, 0), time.Hour, func(error) {})
	defer g.end()
	var wg sync.WaitGroup
	written := make([]int, sessions)
	for i := range sessions {
		wg.Go(func() {
			for k := 0; ; k++ {
				r, ok := g.take(int64(k*sessions+i+1), 64)
				if !ok {
					return
				}
				written[i]++
				if r != "" {
					g.stop(r)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i, n := range written {
		total += n
		// Session i wrote timestamps i+1, i+1+4, ...: all up to the limit.
		if next := n*sessions + i + 1; next <= limit {
			t.Errorf("session %d wrote up to time %d, short of the limit's %d", i, next-sessions, limit)
		}
	}
	if total < limit || g.stopped() != StopPackets {
		t.Errorf("%d frames written (per session %v), stop %q; want at least %d, packets", total, written, g.stopped(), limit)
	}
}

func TestMergedNames(t *testing.T) {
	caps := func(names ...string) []capturePlan {
		out := make([]capturePlan, len(names))
		for i, n := range names {
			out[i].iface = n
		}
		return out
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = fmt.Sprintf("ethernet%02d", i)
	}
	for _, tc := range []struct {
		name                string
		p                   plan
		label, alias, fname string
	}{
		{"interfaces", plan{captures: caps("eth0", "eth1")}, "eth0+eth1", "", "h-eth0+eth1-100-id1.pcapng"},
		{"alias", plan{captures: caps("eth0", "eth1"), req: Request{Alias: []string{"public"}}}, "eth0+eth1", "public", "h-public-100-id1.pcapng"},
		{"alias not a plain name", plan{captures: caps("eth0", "eth1"), req: Request{Alias: []string{"a/b"}}}, "eth0+eth1", "a/b", "h-eth0+eth1-100-id1.pcapng"},
		{"two aliases", plan{captures: caps("eth0", "eth1"), req: Request{Alias: []string{"x", "y"}}}, "eth0+eth1", "", "h-eth0+eth1-100-id1.pcapng"},
		{"long", plan{captures: caps(many...)}, "ethernet00+ethernet01+ethernet02+ethernet03+ethernet04+15more", "",
			"h-ethernet00+ethernet01+ethernet02+ethernet03+ethernet04+15more-100-id1.pcapng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label, alias := mergedNames(&tc.p)
			fname := mergedFileName("h", label, alias, time.Unix(100, 0), "id1")
			if label != tc.label || alias != tc.alias || fname != tc.fname {
				t.Errorf("mergedNames = %q, %q, file %q; want %q, %q, %q", label, alias, fname, tc.label, tc.alias, tc.fname)
			}
			if len(label) > maxMergedLabel {
				t.Errorf("label is %d bytes, the limit is %d", len(label), maxMergedLabel)
			}
		})
	}
}

// FuzzMergeEPBs merges two arbitrary byte strings as EPB sources: the
// merge never panics, fails exactly with errBadEPB, returns every source
// chunk, and on success writes every source byte once, as whole blocks.
func FuzzMergeEPBs(f *testing.F) {
	pool := newChunkPool(64, 1<<10)
	a, b := readAll(f, epbBuffer(pool, seq(0, 3, 5, 2, 10))), readAll(f, epbBuffer(pool, seq(1, 2, 4, 3, 70)))
	f.Add(a, b)
	f.Add(a, []byte{})
	f.Add(a[:40], b)
	f.Add([]byte{6, 0, 0, 0, 32, 0, 0, 0}, b)
	f.Fuzz(func(t *testing.T, x, y []byte) {
		pool := newChunkPool(64, 1<<20)
		srcs := []*buffer{newBuffer(pool), newBuffer(pool)}
		srcs[0].write(x)
		srcs[1].write(y)
		n := len(srcs[0].chunks) + len(srcs[1].chunks)
		dst := newBuffer(pool)
		_, err := mergeEPBs(dst, srcs, noMergeLimits)
		if err != nil && !errors.Is(err, errBadEPB) {
			t.Fatalf("mergeEPBs = %v, not errBadEPB", err)
		}
		out := readAll(t, dst)
		dst.release()
		if len(pool.free) < n {
			t.Fatalf("%d chunks back, the sources had %d", len(pool.free), n)
		}
		if err != nil {
			return
		}
		if len(out) != len(x)+len(y) {
			t.Fatalf("merged %d bytes of %d", len(out), len(x)+len(y))
		}
		for off := 0; off < len(out); {
			if len(out)-off < 32 {
				t.Fatalf("offset %d: %d bytes left", off, len(out)-off)
			}
			l := int(le.Uint32(out[off+4:]))
			if le.Uint32(out[off:]) != ngEPB || l < 32 || off+l > len(out) {
				t.Fatalf("offset %d: not a whole EPB", off)
			}
			off += l
		}
	})
}

// BenchmarkMergeEPBs merges two interfaces' captures of alternating
// frames (the worst case: no runs) into one file.
func BenchmarkMergeEPBs(b *testing.B) {
	for _, size := range []int{64, 1500} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			const perSource = 20000
			pool := newChunkPool(DefaultChunkSize, 1<<10)
			make2 := func() []*buffer {
				return []*buffer{
					epbBuffer(pool, seq(0, perSource, 0, 2, size)),
					epbBuffer(pool, seq(1, perSource, 1, 2, size)),
				}
			}
			srcs := make2()
			b.SetBytes(srcs[0].Len() + srcs[1].Len())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				dst := newBuffer(pool)
				if _, err := mergeEPBs(dst, srcs, noMergeLimits); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				dst.release()
				srcs = make2()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*perSource), "ns/frame")
		})
	}
}

// seqHandle is ringHandle with timestamps that only grow, as one socket's.
type seqHandle struct{ ringHandle }

func (h *seqHandle) ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error) {
	p, err := h.ringHandle.ReadPacket(ctx, deadline)
	p.Timestamp = int64(h.i) * 1000
	return p, err
}

// runMergedLoop runs the capture loop of one session of a merged capture
// (limit n packets) into a fresh buffer.
func runMergedLoop(tb testing.TB, a *Agent, n int, h Handle) *buffer {
	p := &plan{packets: int64(n), bytes: 1 << 62, timeout: time.Hour, duration: time.Hour, snaplen: 262144, format: FormatPcapNG}
	s := &session{
		a: a, log: a.log, p: p,
		cp: capturePlan{target: target{iface: "eth0"}, linkType: 1}, snaplen: 262144, linkType: 1,
	}
	s.group = newMergeGroup(p, 0, time.Unix(0, 0), time.Hour, func(error) {})
	defer s.group.end()
	buf := newBuffer(a.pool)
	var count uint64
	reason, err := s.loop(context.Background(), h, newPcapngEPBWriter(buf, 262144, 0), buf, time.Now(), &count)
	if err != nil || reason != StopPackets || count != uint64(n) {
		tb.Fatalf("loop: %v %q after %d packets", err, reason, count)
	}
	return buf
}

// TestMergedLoopAllocations: a merged session's loop does not allocate
// per packet either.
func TestMergedLoopAllocations(t *testing.T) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 20, FreeChunks: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	h := &seqHandle{ringHandle{pkts: testPackets(64)}}
	runMergedLoop(t, a, 20000, h).release() // warm the chunk pool
	const n = 20000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := runMergedLoop(t, a, n, h)
	runtime.ReadMemStats(&after)
	buf.release()
	if allocs := after.Mallocs - before.Mallocs; allocs > 30 {
		t.Errorf("%d allocations for %d packets", allocs, n)
	}
}

// BenchmarkMergedCaptureLoop is BenchmarkCaptureLoop's pcapng case for a
// session of a merged capture: what the group's shared counters cost.
func BenchmarkMergedCaptureLoop(b *testing.B) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 20, FreeChunks: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	h := &seqHandle{ringHandle{pkts: testPackets(256)}}
	const per = 50000
	b.ReportAllocs()
	for b.Loop() {
		runMergedLoop(b, a, per, h).release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/packet")
}

// TestMergedSessionDrainBounded: a session draining after another one
// stopped the group keeps the frames older than the stop, but never more
// than the limits let one interface put in the file, so its buffer stays
// within the memory admitted for it.
func TestMergedSessionDrainBounded(t *testing.T) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 16, FreeChunks: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	const header = 200
	pkts := testPackets(16)
	// The byte share: frames until the header and their EPBs reach 10000.
	byteShare, size := uint64(0), int64(header)
	for i := 0; size < 10_000; i++ {
		size += epbLen(len(pkts[i%len(pkts)].Data))
		byteShare++
	}
	for _, tc := range []struct {
		name           string
		packets, bytes int64
		stopTs         int64 // the group stopped at this time
		want           uint64
		reason         StopReason
	}{
		// seqHandle's frames are at 1000, 2000, ...
		{"older frames kept", 1000, 1 << 40, 50_500, 50, StopTimeout},
		{"packet share", 100, 1 << 40, 1 << 40, 100, StopPackets},
		{"byte share", 1000, 10_000, 1 << 40, byteShare, StopBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &plan{packets: tc.packets, bytes: tc.bytes, timeout: time.Hour, duration: time.Hour, snaplen: 262144, format: FormatPcapNG}
			s := &session{a: a, log: a.log, p: p, cp: capturePlan{target: target{iface: "eth0"}, linkType: 1}, snaplen: 262144, linkType: 1}
			s.group = newMergeGroup(p, header, time.Unix(0, 0), time.Hour, func(error) {})
			defer s.group.end()
			s.group.seen(tc.stopTs)
			s.group.stop(StopTimeout) // by another interface
			buf := newBuffer(a.pool)
			defer buf.release()
			var count uint64
			reason, err := s.loop(context.Background(), &seqHandle{ringHandle{pkts: pkts}},
				newPcapngEPBWriter(buf, 262144, 0), buf, time.Now(), &count)
			if err != nil {
				t.Fatal(err)
			}
			if count != tc.want || reason != tc.reason {
				t.Errorf("session wrote %d frames and stopped by %q, want %d, %q", count, reason, tc.want, tc.reason)
			}
		})
	}
}
