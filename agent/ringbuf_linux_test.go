//go:build linux

package agent

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/afpacket/afpackettest"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// memKernel plays the kernel for an afpacket.Conn over memory: it writes
// its blocks into the ring in order, each into the next block once the
// reader has given it back, as the kernel fills a TPACKET_V3 ring.
type memKernel struct {
	mem    []byte
	size   int
	next   int // the ring block it fills next
	seq    uint64
	blocks [][]afpackettest.Frame // still to come, in order
}

// fill hands over up to k blocks, fewer when the ring has no free block
// (the kernel would drop), and reports how many.
func (m *memKernel) fill(k int) int {
	n := 0
	for ; n < k && len(m.blocks) > 0; n++ {
		b := m.mem[m.next*m.size : (m.next+1)*m.size]
		if afpackettest.BlockStatus(b) != afpackettest.StatusKernel {
			break
		}
		m.seq++
		afpackettest.PutBlock(b, m.seq, m.blocks[0])
		m.blocks = m.blocks[1:]
		m.next = (m.next + 1) % (len(m.mem) / m.size)
	}
	return n
}

// ringCase is a capture on the ring path over synthetic blocks.
type ringCase struct {
	name     string
	format   string
	linkType uint32
	snaplen  int
	blocks   int // ring blocks
	lim      afpacket.Limits
	perWake  int // blocks the kernel hands over between two looks
	minFree  int
}

// testBlocks lays frames into blocks of size bytes.
func testBlocks(size int, fs []afpackettest.Frame) [][]afpackettest.Frame {
	var out [][]afpackettest.Frame
	for len(fs) > 0 {
		n := afpackettest.Fill(size, fs)
		out = append(out, fs[:n])
		fs = fs[n:]
	}
	return out
}

// testRingFrames returns n frames of assorted sizes (some VLAN tagged in
// the ring's metadata), one microsecond apart from base, for linkType.
func testRingFrames(n int, base time.Time, linkType uint32, small bool) []afpackettest.Frame {
	r := rand.New(rand.NewPCG(7, uint64(n)))
	out := make([]afpackettest.Frame, n)
	for i := range out {
		size := 60 + r.IntN(1455)
		if small {
			size = 60 + r.IntN(40)
		}
		ts := base.Add(time.Duration(i) * time.Microsecond)
		f := afpackettest.Frame{
			Data: testFrame(size, uint16(1000+i)), Sec: uint32(ts.Unix()), Nsec: uint32(ts.Nanosecond()),
			Protocol: 0x0800, IfIndex: 2, HAType: 1, Addr: []byte{2, 0, 0, 0, 0, 1},
			VLAN: i%5 == 0, TCI: uint16(i), TPID: []uint16{0, 0x8100, 0x88a8}[i%3],
		}
		if linkType == afpacket.LinkTypeLinuxSLL2 {
			f.Data, f.Mac = f.Data[14:], afpackettest.CookedMac
		}
		out[i] = f
	}
	return out
}

// copyingFile writes what the copying path writes of the frames of blocks:
// each frame as the ring walk returns it (Walk on a copy of its block),
// through the file's writer, stopping after the frame that reaches a limit
// (session.loop's order: packets, file bytes, time).
func copyingFile(t *testing.T, tc ringCase, size int, blocks [][]afpackettest.Frame, st capfile.Stats) ([]byte, int64) {
	t.Helper()
	buf := capfile.NewBuffer(capfile.NewChunkPool(4096, 0))
	var w fileWriter
	if tc.format == FormatPcapNG {
		w = capfile.NewPcapngWriter(buf, tc.linkType, tc.snaplen, "eth0")
	} else {
		w = capfile.NewPcapWriter(buf, tc.linkType, tc.snaplen)
	}
	header := buf.Len()
	var frames int64
	stopped := false
	for _, fs := range blocks {
		mem := make([]byte, size)
		c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: size, NumBlocks: 1, LinkType: tc.linkType})
		if err != nil {
			t.Fatal(err)
		}
		afpackettest.PutBlock(mem, 1, fs)
		bs, _ := c.Keep(nil)
		c.Walk(bs[0], func(p *afpacket.Packet) bool {
			if tc.lim.End != 0 && p.Timestamp >= tc.lim.End {
				// Stamped after the duration's end: as session.loop, not
				// written.
				stopped = true
				return false
			}
			w.Packet(p.Timestamp, p.Data, p.Length)
			frames++
			switch {
			case tc.lim.Frames > 0 && frames >= tc.lim.Frames,
				tc.lim.Bytes > 0 && buf.Len()-header >= tc.lim.Bytes:
				stopped = true
			}
			return !stopped
		})
		if stopped {
			break
		}
	}
	st.Delivered = uint64(frames)
	w.Finish(st)
	b, err := io.ReadAll(buf.Data().NewReader())
	if err != nil {
		t.Fatal(err)
	}
	return b, frames
}

// runRing captures the blocks on the ring path: the kernel hands over
// tc.perWake blocks (as many as the ring has free) between two looks, and
// the buffer makes room for tc.minFree free blocks after each.
func runRing(t *testing.T, tc ringCase, size int, blocks [][]afpackettest.Frame, st capfile.Stats) (*ringBuffer, []byte, int64) {
	t.Helper()
	mem := make([]byte, size*tc.blocks)
	c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: size, NumBlocks: tc.blocks, LinkType: tc.linkType})
	if err != nil {
		t.Fatal(err)
	}
	k := &memKernel{mem: mem, size: size, blocks: blocks}
	header, rf, extra := ringLayout(tc.format, tc.linkType, tc.snaplen, "eth0")
	lim := tc.lim
	if lim.Bytes > 0 {
		lim.Bytes -= 0 // the limits of these cases count the records alone
	}
	rb := newRingBuffer(c, rf, extra, lim, capfile.NewChunkPool(4096, 0))
	for len(k.blocks) > 0 && rb.reached == afpacket.LimitNone {
		if k.fill(tc.perWake) == 0 && rb.free() > 0 {
			t.Fatal("the kernel found no free block though the buffer says it has some")
		}
		if err := rb.take(); err != nil {
			t.Fatal(err)
		}
		if rb.reached != afpacket.LimitNone {
			break
		}
		rb.makeRoom(tc.minFree)
	}
	rb.take()
	var trailer func(int64) []byte
	if tc.format == FormatPcapNG {
		trailer = func(frames int64) []byte {
			s := st
			s.Delivered = uint64(frames)
			return capfile.NGStats(0, s)
		}
	}
	// Written out as it grows, as pcapdaemon capture writes it: the
	// writer compacts blocks too while it waits for the next run.
	f, wait := rb.finishStream(header, trailer)
	var out bytes.Buffer
	if _, err := f.Data().NewReader().(io.WriterTo).WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	frames := wait()
	f.Release()
	return rb, out.Bytes(), frames
}

// TestRingBufferMatchesCopying is the differential test of the two paths
// over synthetic blocks: for pcap and pcapng, Ethernet with VLAN tags and
// cooked LINUX_SLL2 frames, snap lengths, limits of packets, bytes and time
// exactly at block boundaries and inside blocks, and rings small enough
// that records are moved into other blocks and spilled into chunks as the
// ring wraps, the ring path's file is byte for byte the copying path's.
func TestRingBufferMatchesCopying(t *testing.T) {
	const size = 16 << 10
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	st := capfile.Stats{Start: base, End: base.Add(time.Minute), Received: 9, Drops: 1, KernelKnown: true}
	var cases []ringCase
	for _, format := range []string{FormatPcap, FormatPcapNG} {
		for _, lt := range []uint32{afpacket.LinkTypeEthernet, afpacket.LinkTypeLinuxSLL2} {
			for _, snap := range []int{262144, 100} {
				c := ringCase{format: format, linkType: lt, snaplen: snap, blocks: 64, perWake: 3, minFree: 2}
				cases = append(cases, c)
				c.blocks, c.perWake = 6, 1 // wraps many times: records moved and spilled
				cases = append(cases, c)
			}
		}
	}
	for _, c := range cases {
		c.name = fmt.Sprintf("%s/linktype %d/snap %d/ring %d", c.format, c.linkType, c.snaplen, c.blocks)
		t.Run(c.name, func(t *testing.T) {
			fs := testRingFrames(1500, base, c.linkType, false)
			blocks := testBlocks(size, fs)
			// Limits: none, then packets and bytes reached by the last
			// frame of a block and by one inside the next, and time.
			full, frames := copyingFile(t, c, size, blocks, st)
			atBlock := int64(len(blocks[0]) + len(blocks[1]) + len(blocks[2]))
			lims := []afpacket.Limits{{},
				{Frames: atBlock}, {Frames: atBlock + 5}, {Frames: frames - 1},
				{Bytes: recordBytes(t, c, size, blocks, atBlock)}, {Bytes: recordBytes(t, c, size, blocks, atBlock) + 1},
				{End: base.Add(time.Duration(atBlock-1) * time.Microsecond).UnixNano()},
				{End: base.Add(700 * time.Microsecond).UnixNano()},
			}
			_ = full
			for _, lim := range lims {
				tc := c
				tc.lim = lim
				want, wantN := copyingFile(t, tc, size, blocks, st)
				rb, got, gotN := runRing(t, tc, size, blocks, st)
				if gotN != wantN || !bytes.Equal(got, want) {
					t.Errorf("limits %+v: ring path wrote %d frames in %d bytes, copying path %d in %d (equal bytes: %v)",
						lim, gotN, len(got), wantN, len(want), bytes.Equal(got, want))
				}
				if c.blocks == 6 && lim == (afpacket.Limits{}) && (rb.moved == 0 || rb.spilled == 0) {
					t.Errorf("a 6-block ring moved %d and spilled %d bytes: the test does not wrap it", rb.moved, rb.spilled)
				}
			}
		})
	}
}

// recordBytes returns the bytes of the records of the first n frames of
// blocks in tc's format.
func recordBytes(t *testing.T, tc ringCase, size int, blocks [][]afpackettest.Frame, n int64) int64 {
	t.Helper()
	tc.lim = afpacket.Limits{Frames: n}
	b, _ := copyingFile(t, tc, size, blocks, capfile.Stats{})
	header, _, _ := ringLayout(tc.format, tc.linkType, tc.snaplen, "eth0")
	trailer := 0
	if tc.format == FormatPcapNG {
		trailer = len(capfile.NGStats(0, capfile.Stats{Delivered: uint64(n)}))
	}
	return int64(len(b) - len(header) - trailer)
}

// TestRingBufferSmallFrames: a ring filled with small frames holds more
// of them than it has room for as they come (up to about twice as many)
// once its blocks are compacted and their records moved together, before
// anything is spilled into chunks.
func TestRingBufferSmallFrames(t *testing.T) {
	const size = 16 << 10
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	c := ringCase{format: FormatPcap, linkType: afpacket.LinkTypeEthernet, snaplen: 262144, blocks: 16, perWake: 1, minFree: 2}
	fs := testRingFrames(4000, base, c.linkType, true)
	blocks := testBlocks(size, fs)
	perBlock := len(blocks[0])
	// As many frames as 1.3 rings of blocks hold: their records (about
	// 57% of their place in the ring) take 0.75 of the ring.
	n := int64(perBlock * c.blocks * 13 / 10)
	c.lim = afpacket.Limits{Frames: n}
	want, _ := copyingFile(t, c, size, blocks, capfile.Stats{})
	rb, got, gotN := runRing(t, c, size, blocks, capfile.Stats{})
	if gotN != n || !bytes.Equal(got, want) {
		t.Fatalf("ring path wrote %d frames, want %d (equal bytes: %v)", gotN, n, bytes.Equal(got, want))
	}
	if rb.spilled != 0 || rb.moved == 0 {
		t.Errorf("moved %d, spilled %d bytes: want all kept in the ring", rb.moved, rb.spilled)
	}
}

// TestRingBufferAllocs is the allocation guard of the ring path's
// per-block work: taking blocks, counting them (exactly, near a limit) and
// giving them back allocate nothing.
func TestRingBufferAllocs(t *testing.T) {
	const size, n = 16 << 10, 8
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	fs := testRingFrames(200, base, afpacket.LinkTypeEthernet, false)
	blk := fs[:afpackettest.Fill(size, fs)]
	mem := make([]byte, size*n)
	c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: size, NumBlocks: n, LinkType: afpacket.LinkTypeEthernet})
	if err != nil {
		t.Fatal(err)
	}
	_, rf, extra := ringLayout(FormatPcap, afpacket.LinkTypeEthernet, 262144, "eth0")
	// A byte limit the bounds always may reach: every block is measured.
	rb := newRingBuffer(c, rf, extra, afpacket.Limits{Frames: 1 << 40, Bytes: 1}, nil)
	rb.lim.Bytes = 1 << 40
	rb.hiBytes = 1 << 40
	next := 0
	allocs := testing.AllocsPerRun(100, func() {
		afpackettest.PutBlock(mem[next*size:(next+1)*size], 1, blk)
		next = (next + 1) % n
		if err := rb.take(); err != nil {
			panic(err)
		}
		// Give the block back without compacting it, as a look-back ring
		// recycles its oldest.
		rb.k.Release(1)
		rb.head = (rb.head + 1) % len(rb.q)
		rb.n--
		rb.measured--
	})
	if allocs != 0 {
		t.Errorf("the ring path allocates %v times per block, want 0", allocs)
	}
	if rb.frames == 0 {
		t.Error("no block was measured")
	}
}

// TestRingBufferDropsBeforeLimit: the drops a capture stopped by a limit
// reports are those before the frame that reached it, told apart by the
// kernel's TP_STATUS_LOSING on the blocks: drops counted after the block
// holding that frame was handed over came after its frames.
func TestRingBufferDropsBeforeLimit(t *testing.T) {
	const size = 16 << 10
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	fs := testRingFrames(300, base, afpacket.LinkTypeEthernet, false)
	blocks := testBlocks(size, fs)
	limit := int64(len(blocks[0]) + len(blocks[1]) + 2) // inside the third block
	for _, tc := range []struct {
		name        string
		losingThird bool
		want        uint64
	}{
		{"drops after the limit's block", false, 5},
		{"drops before the limit's block", true, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := make([]byte, size*8)
			c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: size, NumBlocks: 8, LinkType: afpacket.LinkTypeEthernet})
			if err != nil {
				t.Fatal(err)
			}
			_, rf, extra := ringLayout(FormatPcap, afpacket.LinkTypeEthernet, 262144, "eth0")
			rb := newRingBuffer(c, rf, extra, afpacket.Limits{Frames: limit}, nil)
			const losing = 1 << 2 // TP_STATUS_LOSING
			for i, drops := range []uint64{0, 5, 9} {
				b := mem[i*size : (i+1)*size]
				afpackettest.PutBlock(b, uint64(i+1), blocks[i])
				if i == 1 || i == 2 && tc.losingThird {
					binary.NativeEndian.PutUint32(b[8:], afpackettest.StatusUser|losing)
				}
				if err := rb.take(); err != nil {
					t.Fatal(err)
				}
				rb.noteDrops(drops)
			}
			if rb.reached != afpacket.LimitFrames {
				t.Fatalf("limit not reached: %v", rb.reached)
			}
			if rb.cutDropped != tc.want {
				t.Errorf("drops before the limit: %d, want %d", rb.cutDropped, tc.want)
			}
		})
	}
}
