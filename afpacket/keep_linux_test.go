//go:build linux

package afpacket

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pcapdaemon/pcapdaemon/afpacket/afpackettest"
	"golang.org/x/sys/unix"
)

// Record formats of the tests, shaped like pcap's and pcapng's: a pcap
// record header (time, captured and wire length), and an Enhanced Packet
// Block-like head, 4-byte padding and tail.
var (
	testPcap = RecordFormat{Head: 16, Align: 1, Put: func(rec []byte, ts int64, n, wire int) {
		le := binary.LittleEndian
		le.PutUint32(rec[0:], uint32(ts/1e9))
		le.PutUint32(rec[4:], uint32(ts%1e9))
		le.PutUint32(rec[8:], uint32(n))
		le.PutUint32(rec[12:], uint32(wire))
	}}
	testEPB = RecordFormat{Head: 28, Align: 4, Tail: 4, Put: func(rec []byte, ts int64, n, wire int) {
		le := binary.LittleEndian
		le.PutUint32(rec[0:], 6)
		le.PutUint32(rec[4:], uint32(len(rec)))
		le.PutUint64(rec[8:], uint64(ts))
		le.PutUint32(rec[16:], uint32(n))
		le.PutUint32(rec[20:], uint32(wire))
		le.PutUint32(rec[24:], 0)
		clear(rec[28+n : len(rec)-4])
		le.PutUint32(rec[len(rec)-4:], uint32(len(rec)))
	}}
)

// reference writes the records of f for frames as Walk returns them, the
// way a writer of frames would: the expected output of Compact.
func reference(f RecordFormat, ps []Packet, lim Limits) ([]byte, Count) {
	var out []byte
	var cnt Count
	for _, p := range ps {
		if lim.End != 0 && p.Timestamp >= lim.End {
			cnt.Reached = LimitEnd
			break
		}
		n := p.CaptureLength
		if f.Snaplen > 0 {
			n = min(n, f.Snaplen)
		}
		wire := max(p.Length, n)
		size := f.Head + (n+f.Align-1)/f.Align*f.Align + f.Tail
		rec := make([]byte, size)
		copy(rec[f.Head:], p.Data[:n])
		f.Put(rec, p.Timestamp, n, wire)
		out = append(out, rec...)
		cnt.Frames++
		cnt.Bytes += int64(size)
		cnt.Last = p.Timestamp
		switch {
		case lim.Frames > 0 && cnt.Frames >= lim.Frames:
			cnt.Reached = LimitFrames
		case lim.Bytes > 0 && cnt.Bytes >= lim.Bytes:
			cnt.Reached = LimitBytes
		}
		if cnt.Reached != LimitNone {
			break
		}
	}
	return out, cnt
}

// memRing returns a Conn over n blocks of size bytes of memory, and the
// memory.
func memRing(t testing.TB, size, n int, cfg MemConfig) (*Conn, []byte) {
	t.Helper()
	mem := make([]byte, size*n)
	cfg.BlockSize, cfg.NumBlocks = size, n
	if cfg.LinkType == 0 {
		cfg.LinkType = LinkTypeEthernet
	}
	c, err := NewMemConn(mem, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, mem
}

// compactCases are blocks whose frames need every kind of work: a cooked
// header built, a VLAN tag put back (inside the cooked header for
// LINUX_SLL), snap lengths of the Conn and of the format, frames the
// kernel cut, and loopback's outgoing copies left out.
func compactCases() []struct {
	name string
	cfg  MemConfig
	snap int // the format's snap length
	fs   []testFrame
} {
	plain := etherFrame(macA, macB, nil, 1, 60)
	big := etherFrame(macA, macB, nil, 2, 1514)
	payload := big[14:]
	var mixed []testFrame
	for i := range 40 {
		mixed = append(mixed, testFrame{
			data: etherFrame(macA, macB, nil, uint32(i), 60+i*37%1400), sec: 1700000000 + uint32(i), nsec: uint32(i * 1000),
			vlan: i%3 == 0, tci: uint16(i), tpid: []uint16{0, 0x8100, 0x88a8}[i%3], wire: []int{0, 0, 2000}[i%3],
		})
	}
	return []struct {
		name string
		cfg  MemConfig
		snap int
		fs   []testFrame
	}{
		{name: "ethernet mixed", fs: mixed},
		{name: "ethernet mixed, format snap 100", snap: 100, fs: mixed},
		{name: "ethernet mixed, conn snap 70", cfg: MemConfig{Snaplen: 70}, fs: mixed},
		{name: "tag cut by snap inside it", snap: 14, fs: []testFrame{{data: plain, vlan: true, tci: 9}, {data: big, vlan: true, tci: 1}}},
		{name: "kernel truncated", fs: []testFrame{{data: big[:64], wire: 1514}, {data: big[:200], wire: 1514, vlan: true, tci: 4}}},
		{name: "loopback outgoing skipped", cfg: MemConfig{LoopbackIndex: 1}, fs: []testFrame{
			{data: plain, pkttype: unix.PACKET_OUTGOING, ifindex: 1, sec: 1},
			{data: plain, pkttype: unix.PACKET_OUTGOING, ifindex: 2, sec: 2},
			{data: big, pkttype: unix.PACKET_HOST, ifindex: 1, sec: 3},
			{data: plain, pkttype: unix.PACKET_OUTGOING, ifindex: 1, sec: 4},
		}},
		{name: "raw", cfg: MemConfig{LinkType: LinkTypeRaw}, fs: []testFrame{{data: payload, mac: 96, vlan: true, tci: 3}, {data: payload[:20], mac: 96}}},
		{name: "LINUX_SLL with tags", cfg: MemConfig{LinkType: LinkTypeLinuxSLL}, fs: []testFrame{
			{data: payload, mac: afpackettest.CookedMac, protocol: testEtherType, hatype: 1, addr: macB, vlan: true, tci: 9},
			{data: payload[:30], mac: afpackettest.CookedMac, protocol: 0x0800, hatype: 1, addr: macA},
		}},
		{name: "LINUX_SLL2", cfg: MemConfig{LinkType: LinkTypeLinuxSLL2}, snap: 30, fs: []testFrame{
			{data: payload, mac: afpackettest.CookedMac, protocol: testEtherType, ifindex: 3, pkttype: unix.PACKET_OTHERHOST, hatype: 1, addr: macB},
			{data: payload[:10], mac: afpackettest.CookedMac, protocol: testEtherType, ifindex: 4, hatype: 1, addr: macB, vlan: true, tci: 8},
		}},
		{name: "frames at the least room the kernel leaves", fs: []testFrame{
			{data: plain, mac: sllEnd, vlan: true, tci: 1}, {data: big, mac: sllEnd}, {data: plain, mac: sllEnd, vlan: true, tci: 2},
		}},
	}
}

// TestCompactMatchesWalk checks that Compact writes, in place, exactly
// the records a writer makes of the frames Walk returns (the differential
// test of the two ways through a block), and that Measure counts what
// Compact keeps, for every limit at every frame.
func TestCompactMatchesWalk(t *testing.T) {
	for _, tc := range compactCases() {
		for _, f := range []RecordFormat{testPcap, testEPB} {
			f.Snaplen = tc.snap
			t.Run(fmt.Sprintf("%s/head %d", tc.name, f.Head), func(t *testing.T) {
				const size = 1 << 16
				c, mem := memRing(t, size, 1, tc.cfg)
				if !putBlock(mem, tc.fs) {
					t.Fatal("frames do not fit the block")
				}
				img := append([]byte(nil), mem...)
				blocks, err := c.Keep(nil)
				if err != nil || len(blocks) != 1 {
					t.Fatalf("Keep = %d blocks, %v", len(blocks), err)
				}
				var ps []Packet
				c.Walk(blocks[0], func(p *Packet) bool {
					q := *p
					q.Data = append([]byte(nil), p.Data...)
					ps = append(ps, q)
					return true
				})
				lims := []Limits{{}}
				var total int64
				for i, p := range ps {
					n := p.CaptureLength
					if f.Snaplen > 0 {
						n = min(n, f.Snaplen)
					}
					total += int64(f.Head + (n+f.Align-1)/f.Align*f.Align + f.Tail)
					lims = append(lims, Limits{Frames: int64(i + 1)}, Limits{Bytes: total}, Limits{Bytes: total - 1}, Limits{End: p.Timestamp})
				}
				for _, lim := range lims {
					copy(mem, img)
					wantRun, wantCnt := reference(f, ps, lim)
					if got := c.Measure(blocks[0], f, lim); got != wantCnt {
						t.Errorf("limits %+v: Measure = %+v, want %+v", lim, got, wantCnt)
					}
					run, cnt := c.Compact(blocks[0], f, lim)
					if cnt != wantCnt {
						t.Errorf("limits %+v: Compact counted %+v, want %+v", lim, cnt, wantCnt)
					}
					if !bytes.Equal(run, wantRun) {
						t.Errorf("limits %+v: records differ from the writer's:\n got %x\nwant %x", lim, run, wantRun)
					}
					if !bytes.Equal(mem[:bdLen], img[:bdLen]) {
						t.Errorf("limits %+v: the block descriptor changed", lim)
					}
				}
			})
		}
	}
}

// TestKeepFIFO plays the kernel over a ring of 4 blocks for many rounds:
// Keep takes the blocks in ring order as they are handed over, with their
// descriptors' counters, never one twice; Release gives back the oldest;
// a full ring hands nothing over; Filling counts the block being filled.
func TestKeepFIFO(t *testing.T) {
	const size, n = 4096, 4
	c, mem := memRing(t, size, n, MemConfig{})
	kernel := 0 // the block the kernel fills next
	var seq uint64
	fill := func(k int) {
		for range k {
			blk := mem[kernel*size : (kernel+1)*size]
			if afpackettest.BlockStatus(blk) != afpackettest.StatusKernel {
				t.Fatalf("kernel: block %d is still the user's", kernel)
			}
			seq++
			fs := []testFrame{{data: etherFrame(macA, macB, nil, uint32(seq), 100), sec: uint32(seq), nsec: 5}, {data: etherFrame(macA, macB, nil, uint32(seq), 60), sec: uint32(seq), nsec: 7}}
			putBlock(blk, fs)
			binary.NativeEndian.PutUint64(blk[bdSeqNum:], seq)
			kernel = (kernel + 1) % n
		}
	}
	var held []Block
	buf := make([]Block, 0, n)
	next := uint64(1)
	for round := range 50 {
		k := round%n + 1 - c.Kept()
		k = max(0, min(k, n-c.Kept()))
		fill(k)
		got, err := c.Keep(buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != k {
			t.Fatalf("round %d: Keep took %d blocks, want %d", round, len(got), k)
		}
		for _, b := range got {
			if b.Seq != next || b.Packets != 2 || b.First != int64(next)*1e9+5 || b.Last != int64(next)*1e9+7 {
				t.Fatalf("round %d: block %+v, want seq %d with 2 packets", round, b, next)
			}
			if want := bdLen + (kernelMac+100+7)&^7 + (kernelMac+60+7)&^7; b.Len != want {
				t.Fatalf("round %d: block length %d", round, b.Len)
			}
			next++
		}
		held = append(held, got...)
		if c.Kept() != len(held) {
			t.Fatalf("Kept = %d, holding %d", c.Kept(), len(held))
		}
		if again, _ := c.Keep(buf[:0]); len(again) != 0 {
			t.Fatalf("round %d: Keep took %d blocks again", round, len(again))
		}
		if c.Kept() == n {
			if c.Filling() != 0 {
				t.Errorf("Filling of a full ring = %d", c.Filling())
			}
		}
		r := (round * 7) % (len(held) + 1)
		c.Release(r)
		held = held[r:]
		for i := range n {
			st := afpackettest.BlockStatus(mem[i*size:])
			kept := false
			for _, b := range held {
				kept = kept || b.index == i
			}
			if kept != (st == afpackettest.StatusUser) {
				t.Fatalf("round %d: block %d status %d, kept %v", round, i, st, kept)
			}
		}
	}
	// The block the kernel fills: its count, before it is handed over.
	c.Release(c.Kept())
	blk := mem[kernel*size : (kernel+1)*size]
	binary.NativeEndian.PutUint32(blk[bdNumPkts:], 3)
	if got := c.Filling(); got != 3 {
		t.Errorf("Filling = %d, want 3", got)
	}
}

// TestKeepAllocs is the allocation guard of the keeping reader's per-block
// path: Keep, Measure and Release allocate nothing.
func TestKeepAllocs(t *testing.T) {
	const size, n = 1 << 16, 2
	c, mem := memRing(t, size, n, MemConfig{})
	var fs []testFrame
	for i := range 200 {
		fs = append(fs, testFrame{data: etherFrame(macA, macB, nil, uint32(i), 60), vlan: i%2 == 0, tci: 1})
	}
	buf := make([]Block, 0, n)
	var frames int64
	kfs := testFrames(fs)
	allocs := testing.AllocsPerRun(200, func() {
		afpackettest.PutBlock(mem[:size], 0, kfs)
		got, err := c.Keep(buf[:0])
		if err != nil || len(got) != 1 {
			panic(fmt.Sprint(len(got), err))
		}
		cnt := c.Measure(got[0], testPcap, Limits{Bytes: 1 << 40})
		frames += cnt.Frames
		c.Release(1)
		c.h.head = 0 // the test hands over block 0 every time
	})
	if allocs != 0 {
		t.Errorf("Keep, Measure and Release allocate %v times per block, want 0", allocs)
	}
	if frames == 0 {
		t.Error("measured no frames")
	}
}

// FuzzCompact compacts arbitrary bytes as a kept block, between guard
// bytes: nothing outside the block and nothing of its descriptor may
// change, the records must add up to what Compact counted and Measure
// must count the same.
func FuzzCompact(f *testing.F) {
	for _, tc := range compactCases() {
		mem := make([]byte, 8192)
		if putBlock(mem, tc.fs) {
			f.Add(mem, uint8(tc.cfg.LinkType), uint16(tc.snap), int64(3), false)
		}
	}
	f.Fuzz(func(t *testing.T, blk []byte, lt uint8, snap uint16, frames int64, epb bool) {
		const size = 8192
		const guard = 64
		if len(blk) > size {
			blk = blk[:size]
		}
		lts := []uint32{LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2}
		buf := make([]byte, guard+size+guard)
		for i := range buf {
			buf[i] = 0xa5
		}
		mem := buf[guard : guard+size : guard+size]
		clear(mem)
		copy(mem, blk)
		binary.NativeEndian.PutUint32(mem[bdBlockStatus:], unix.TP_STATUS_USER)
		c, err := NewMemConn(mem, MemConfig{BlockSize: size, NumBlocks: 1, LinkType: lts[int(lt)%len(lts)], LoopbackIndex: int(lt / 4 % 3)})
		if err != nil {
			t.Fatal(err)
		}
		rf := testPcap
		if epb {
			rf = testEPB
		}
		rf.Snaplen = int(snap)
		blocks, _ := c.Keep(nil)
		if len(blocks) != 1 {
			t.Fatalf("Keep took %d blocks", len(blocks))
		}
		desc := append([]byte(nil), mem[:bdLen]...)
		lim := Limits{Frames: frames}
		want := c.Measure(blocks[0], rf, lim)
		run, cnt := c.Compact(blocks[0], rf, lim)
		if cnt != want {
			t.Fatalf("Compact counted %+v, Measure %+v", cnt, want)
		}
		if int64(len(run)) != cnt.Bytes {
			t.Fatalf("records of %d bytes, counted %d", len(run), cnt.Bytes)
		}
		for i := range guard {
			if buf[i] != 0xa5 || buf[guard+size+i] != 0xa5 {
				t.Fatal("Compact wrote outside the block")
			}
		}
		if !bytes.Equal(mem[:bdLen], desc) {
			t.Fatal("Compact wrote into the block descriptor")
		}
		// The records follow each other: walk them by their lengths.
		var frm int64
		for off := 0; off < len(run); frm++ {
			n := int(binary.LittleEndian.Uint32(run[off+8:]))
			size := rf.Head + (n+rf.Align-1)/rf.Align*rf.Align + rf.Tail
			if epb {
				n = int(binary.LittleEndian.Uint32(run[off+16:]))
				size = int(binary.LittleEndian.Uint32(run[off+4:]))
			}
			if snap > 0 && n > int(snap) {
				t.Fatalf("record of %d bytes, snap length %d", n, snap)
			}
			off += size
			if off > len(run) {
				t.Fatalf("record %d runs past the records", frm)
			}
		}
		if frm != cnt.Frames {
			t.Fatalf("%d records, counted %d", frm, cnt.Frames)
		}
	})
}

// TestCompactRefusesLargeFormats: a format that could outgrow the room
// before a frame is a programming error.
func TestCompactRefusesLargeFormats(t *testing.T) {
	c, mem := memRing(t, 4096, 1, MemConfig{})
	putBlock(mem, []testFrame{{data: etherFrame(macA, macB, nil, 1, 60)}})
	blocks, _ := c.Keep(nil)
	defer func() {
		if recover() == nil {
			t.Error("Compact accepted a format of 41 bytes of overhead")
		}
	}()
	c.Compact(blocks[0], RecordFormat{Head: 37, Align: 1, Tail: 4, Put: testPcap.Put}, Limits{})
}

// TestWalkMatchesReadPacket: Walk yields what the ring walk of ReadPacket
// yields for the same block.
func TestWalkMatchesReadPacket(t *testing.T) {
	for _, tc := range compactCases() {
		t.Run(tc.name, func(t *testing.T) {
			c, mem := memRing(t, 1<<16, 1, tc.cfg)
			putBlock(mem, tc.fs)
			img := append([]byte(nil), mem...)
			blocks, _ := c.Keep(nil)
			var got []Packet
			c.Walk(blocks[0], func(p *Packet) bool {
				q := *p
				q.Data = append([]byte(nil), p.Data...)
				got = append(got, q)
				return true
			})
			r := newTestRing(1<<16, 1)
			r.walker = walker{snaplen: c.h.snaplen, framing: c.h.framing, loIfindex: c.h.loIfindex}
			copy(r.mem, img)
			want := walkAll(r)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Walk (-ReadPacket +Walk):\n%s", diff)
			}
		})
	}
}

// BenchmarkCompact measures Compact per frame: blocks of 1 MiB of 60-byte
// frames (every fourth tagged) or 1514-byte frames, rewritten into pcap
// records.
func BenchmarkCompact(b *testing.B) {
	for _, size := range []int{60, 1514} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			const blockSize = 1 << 20
			c, mem := memRing(b, blockSize, 1, MemConfig{})
			var fs []testFrame
			for i := 0; ; i++ {
				f := testFrame{data: etherFrame(macA, macB, nil, uint32(i), size), vlan: i%4 == 0, tci: 1}
				if !putBlock(mem, append(fs, f)) {
					break
				}
				fs = append(fs, f)
			}
			putBlock(mem, fs)
			img := append([]byte(nil), mem...)
			blocks, _ := c.Keep(nil)
			b.SetBytes(int64(blockSize))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				copy(mem, img)
				b.StartTimer()
				_, cnt := c.Compact(blocks[0], testPcap, Limits{})
				if cnt.Frames != int64(len(fs)) {
					b.Fatalf("compacted %d frames of %d", cnt.Frames, len(fs))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fs)), "ns/frame")
		})
	}
}
