package capfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile/capfiletest"
)

// testPkt is one frame of a merge test: its interface, time and size.
type testPkt struct {
	IfID uint32
	TS   int64
	Size int
}

// epbBuffer writes pkts (all of one interface) as bare EPBs into a buffer
// of pool; each frame's bytes say which frame it is.
func epbBuffer(pool *ChunkPool, pkts []testPkt) *Buffer {
	b := NewBuffer(pool)
	for _, p := range pkts {
		w := NewEPBWriter(b, 1<<20, p.IfID)
		w.Packet(p.TS, frameBytes(p), p.Size+7)
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
			pool := NewChunkPool(tc.chunk, 1<<20)
			srcs := make([]*Buffer, len(tc.srcs))
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
			dst := NewBuffer(pool)
			var visited []testPkt
			lim := noMergeLimits
			lim.Visit = func(src int, ts int64, data []byte, wire int) {
				p := testPkt{uint32(src), ts, len(data)}
				if !bytes.Equal(data, frameBytes(p)) || wire != len(data)+7 {
					t.Errorf("visit of %+v: bytes or wire length differ", p)
				}
				visited = append(visited, p)
			}
			counts, err := MergeEPBs(dst, srcs, lim)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range counts {
				if c.Packets != uint64(len(tc.srcs[i])) || i != tc.nilAt && c.Bytes != total0[i] {
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

			f, err := capfiletest.ParseNG(append(ngSectionForTest(len(tc.srcs)), readAll(t, dst)...))
			if err != nil {
				t.Fatal(err)
			}
			var got []testPkt
			for i, p := range f.Packets {
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
		lim   MergeLimits
		want  int // frames kept, in time order
		count [2]uint64
	}{
		{"packets", MergeLimits{Packets: 7, Bytes: 1 << 40}, 7, [2]uint64{4, 3}},
		{"bytes crossed", MergeLimits{Packets: 1 << 40, Bytes: 100 + 5*72 - 1}, 5, [2]uint64{3, 2}},
		{"bytes exact", MergeLimits{Packets: 1 << 40, Bytes: 100 + 5*72}, 5, [2]uint64{3, 2}},
		{"packets before bytes", MergeLimits{Packets: 2, Bytes: 100 + 5*72}, 2, [2]uint64{1, 1}},
		{"none", noMergeLimits, 40, [2]uint64{20, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewChunkPool(100, 1<<20)
			srcs := []*Buffer{epbBuffer(pool, a), epbBuffer(pool, b)}
			n := len(srcs[0].chunks) + len(srcs[1].chunks)
			dst := NewBuffer(pool)
			dst.write(make([]byte, 100)) // a header of 100 bytes
			counts, err := MergeEPBs(dst, srcs, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if counts[0].Packets != tc.count[0] || counts[1].Packets != tc.count[1] ||
				counts[0].Bytes != int64(72*tc.count[0]) || counts[1].Bytes != int64(72*tc.count[1]) {
				t.Errorf("counts %+v, want %v frames of 72 bytes", counts, tc.count)
			}
			if want := int64(100 + 72*tc.want); dst.Len() != want {
				t.Errorf("merged file of %d bytes, want %d", dst.Len(), want)
			}
			f, err := capfiletest.ParseNG(append(ngSectionForTest(2), readAll(t, dst)[100:]...))
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range f.Packets {
				if p.TS != int64(5*i) || p.IfID != uint32(i%2) {
					t.Errorf("frame %d: interface %d at %d, want %d at %d", i, p.IfID, p.TS, i%2, 5*i)
				}
			}
			dst.Release()
			if len(pool.free) < n {
				t.Errorf("%d chunks back, the sources had %d", len(pool.free), n)
			}
		})
	}
}

// ngSectionForTest is a section header with n interfaces, for ParseNG.
func ngSectionForTest(n int) []byte {
	pool := NewChunkPool(4096, 4)
	b := NewBuffer(pool)
	ifaces := make([]Interface, n)
	for i := range ifaces {
		ifaces[i] = Interface{Name: fmt.Sprintf("if%d", i), LinkType: 1, Snaplen: 1 << 20}
	}
	WriteNGHeader(b, ifaces)
	out, _ := io.ReadAll(b.Data().NewReader())
	return out
}

// noMergeLimits merges everything.
var noMergeLimits = MergeLimits{Packets: 1<<64 - 1, Bytes: 1<<63 - 1}

func readAll(t testing.TB, b *Buffer) []byte {
	t.Helper()
	out, err := io.ReadAll(b.Data().NewReader())
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
			pool := NewChunkPool(64, 1<<10)
			good := epbBuffer(pool, seq(0, 10, 0, 2, 40))
			bad := epbBuffer(pool, seq(1, 10, 1, 2, 40))
			// Corrupt bad's fourth block.
			raw := readAll(t, bad)
			off := 0
			for range 3 {
				off += int(le.Uint32(raw[off+4:]))
			}
			tc.mangle(raw[off:])
			bad.Release()
			bad = NewBuffer(pool)
			bad.write(raw)
			n := len(good.chunks) + len(bad.chunks)
			dst := NewBuffer(pool)
			_, err := MergeEPBs(dst, []*Buffer{good, bad}, noMergeLimits)
			if !errors.Is(err, ErrBadEPB) {
				t.Fatalf("MergeEPBs = %v, want ErrBadEPB", err)
			}
			dst.Release()
			if len(pool.free) < n {
				t.Errorf("%d chunks back in the pool, want the sources' %d", len(pool.free), n)
			}
		})
	}
}

func TestNGHeaderLen(t *testing.T) {
	for _, names := range [][]string{nil, {"a"}, {"eth0", "eth1"}, {"abc", "abcd", "abcde", "abcdefghijklmno"}} {
		pool := NewChunkPool(64, 4)
		b := NewBuffer(pool)
		ifaces := make([]Interface, len(names))
		for i, n := range names {
			ifaces[i] = Interface{Name: n, LinkType: 1, Snaplen: 100}
		}
		if n := WriteNGHeader(b, ifaces); n != b.Len() || n != NGHeaderLen(names) {
			t.Errorf("%q: WriteNGHeader wrote %d bytes, said %d, NGHeaderLen says %d", names, b.Len(), n, NGHeaderLen(names))
		}
		f, err := capfiletest.ParseNG(readAll(t, b))
		if err != nil {
			t.Fatal(err)
		}
		for i, idb := range f.Interfaces {
			if idb != (capfiletest.IDB{LinkType: 1, Snaplen: 100, Name: names[i], Tsresol: 9}) {
				t.Errorf("IDB %d: %+v", i, idb)
			}
		}
	}
}

// FuzzMergeEPBs merges two arbitrary byte strings as EPB sources: the
// merge never panics, fails exactly with ErrBadEPB, returns every source
// chunk, and on success writes every source byte once, as whole blocks.
func FuzzMergeEPBs(f *testing.F) {
	pool := NewChunkPool(64, 1<<10)
	a, b := readAll(f, epbBuffer(pool, seq(0, 3, 5, 2, 10))), readAll(f, epbBuffer(pool, seq(1, 2, 4, 3, 70)))
	f.Add(a, b)
	f.Add(a, []byte{})
	f.Add(a[:40], b)
	f.Add([]byte{6, 0, 0, 0, 32, 0, 0, 0}, b)
	f.Fuzz(func(t *testing.T, x, y []byte) {
		pool := NewChunkPool(64, 1<<20)
		srcs := []*Buffer{NewBuffer(pool), NewBuffer(pool)}
		srcs[0].write(x)
		srcs[1].write(y)
		n := len(srcs[0].chunks) + len(srcs[1].chunks)
		dst := NewBuffer(pool)
		_, err := MergeEPBs(dst, srcs, noMergeLimits)
		if err != nil && !errors.Is(err, ErrBadEPB) {
			t.Fatalf("MergeEPBs = %v, not ErrBadEPB", err)
		}
		out := readAll(t, dst)
		dst.Release()
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
			pool := NewChunkPool(HugePageSize, 1<<10)
			make2 := func() []*Buffer {
				return []*Buffer{
					epbBuffer(pool, seq(0, perSource, 0, 2, size)),
					epbBuffer(pool, seq(1, perSource, 1, 2, size)),
				}
			}
			srcs := make2()
			b.SetBytes(srcs[0].Len() + srcs[1].Len())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				dst := NewBuffer(pool)
				if _, err := MergeEPBs(dst, srcs, noMergeLimits); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				dst.Release()
				srcs = make2()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*perSource), "ns/frame")
		})
	}
}

// TestEPBWriterFinish: a writer of bare EPBs leaves the statistics to
// the merge; its Finish adds nothing to the buffer.
func TestEPBWriterFinish(t *testing.T) {
	b := NewBuffer(NewChunkPool(256, 4))
	w := NewEPBWriter(b, 100, 1)
	w.Packet(5, make([]byte, 10), 10)
	n := b.Len()
	w.Finish(Stats{Delivered: 1, KernelKnown: true})
	if b.Len() != n || n != EPBLen(10) {
		t.Errorf("buffer holds %d bytes after Finish, %d before; want one EPB of %d", b.Len(), n, EPBLen(10))
	}
}
