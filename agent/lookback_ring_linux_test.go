//go:build linux

package agent

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/afpacket/afpackettest"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// lbBase is the time of the synthetic look-back frames.
var lbBase = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// lbFrames returns n Ethernet frames of size bytes, from UDP source ports
// 1000+i, stamped lbBase+start+i*every.
func lbFrames(n, size int, start, every time.Duration) []afpackettest.Frame {
	out := make([]afpackettest.Frame, n)
	for i := range out {
		ts := lbBase.Add(start + time.Duration(i)*every)
		out[i] = afpackettest.Frame{
			Data: testFrame(size, uint16(1000+i)), Sec: uint32(ts.Unix()), Nsec: uint32(ts.Nanosecond()),
			Protocol: 0x0800, IfIndex: 3, HAType: 1,
		}
	}
	return out
}

// frameTime returns the timestamp of f in ns.
func frameTime(f afpackettest.Frame) int64 { return int64(f.Sec)*1e9 + int64(f.Nsec) }

// memRing is a look-back ring over memory, its owner driven by the test
// (no goroutine), and the kernel it plays.
type memRing struct {
	*lookbackRing
	conn   *afpacket.Conn
	kernel *memKernel
}

// newMemRing returns a ring of blocks blocks of size bytes (held: all but
// a quarter and the margin) whose kernel has blocks to hand over.
func newMemRing(t testing.TB, size, blocks int, linkType uint32, fill [][]afpackettest.Frame) *memRing {
	t.Helper()
	mem := make([]byte, size*blocks)
	c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: size, NumBlocks: blocks, LinkType: linkType})
	if err != nil {
		t.Fatal(err)
	}
	lb := NewLookback(LookbackOptions{})
	r := newLookbackRing(lb, LookbackConfig{Interface: "eth0", Bytes: 1 << 20})
	r.geo = lookbackGeometry{blockSize: size, blocks: blocks, held: blocks - blocks/4 - lookbackMargin(blocks)}
	r.q, r.got = make([]afpacket.Block, blocks), make([]afpacket.Block, 0, blocks)
	return &memRing{lookbackRing: r, conn: c, kernel: &memKernel{mem: mem, size: size, blocks: fill}}
}

// seqs returns the sequence numbers of the kept blocks, oldest first.
func (m *memRing) seqs() []uint64 {
	var out []uint64
	for i := range m.n {
		out = append(out, m.at(i).Seq)
	}
	return out
}

func TestLookbackGeometry(t *testing.T) {
	for _, tc := range []struct {
		bytes int64
		snap  int
	}{
		{1 << 20, 500}, {8 << 20, 500}, {64 << 20, 500}, {64 << 20, 1514}, {64 << 20, 65535},
		{64 << 20, 262144}, {1 << 30, 500}, {16 << 30, 262144}, {100_000, 96},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.bytes, tc.snap), func(t *testing.T) {
			c := LookbackConfig{Interface: "eth0", Bytes: tc.bytes, Snaplen: tc.snap}
			g := geometryOf(c)
			margin := lookbackMargin(g.blocks)
			switch {
			case int64(g.held)*int64(g.blockSize) < tc.bytes:
				t.Errorf("holds %d blocks of %d bytes, less than %d", g.held, g.blockSize, tc.bytes)
			case g.blocks-g.held < g.blocks/4+margin:
				t.Errorf("%d of %d blocks free, want a quarter and the margin %d", g.blocks-g.held, g.blocks, margin)
			case g.blockSize < 2*(tc.snap+96) && g.blockSize < maxLookbackBlock:
				t.Errorf("block of %d bytes holds fewer than two frames of %d", g.blockSize, tc.snap)
			case g.blockSize&(g.blockSize-1) != 0 || g.blockSize < minLookbackBlock || g.blockSize > maxLookbackBlock:
				t.Errorf("block size %d", g.blockSize)
			case g.blocks > maxLookbackBlocks*16/10:
				t.Errorf("%d blocks", g.blocks)
			case g.held < minLookbackHeld:
				t.Errorf("holds %d blocks", g.held)
			}
			if got, want := LookbackRingBytes(c), int64(g.blocks)*int64(g.blockSize); got != want {
				t.Errorf("LookbackRingBytes = %d, want %d", got, want)
			}
			// The ring is no larger than it must be: a quarter and an
			// eighth more than the history.
			if over := float64(g.blocks) / float64(g.held); over > 1.65 && g.held > minLookbackHeld {
				t.Errorf("%d blocks for %d held: %.2fx", g.blocks, g.held, over)
			}
		})
	}
}

// The kernel hands blocks over in bursts as large as the margin between
// two looks; the owner keeps the newest held blocks and gives the oldest
// back, so the kernel always finds a quarter of the ring free ahead of the
// block it fills, and never a kept block where it writes.
func TestLookbackRingRecycles(t *testing.T) {
	const size, blocks = 4096, 32
	fs := lbFrames(3000, 100, 0, time.Millisecond)
	m := newMemRing(t, size, blocks, afpacket.LinkTypeEthernet, testBlocks(size, fs))
	margin := lookbackMargin(blocks)
	total := len(m.kernel.blocks)
	for round := 0; len(m.kernel.blocks) > 0; round++ {
		want := min(margin, len(m.kernel.blocks))
		if got := m.kernel.fill(want); got != want {
			t.Fatalf("round %d: the kernel filled %d of %d blocks: the ring was full", round, got, want)
		}
		if err := m.take(m.conn); err != nil {
			t.Fatal(err)
		}
		m.trim(m.conn)
		if m.n > m.geo.held {
			t.Fatalf("round %d: %d blocks kept, at most %d", round, m.n, m.geo.held)
		}
		if free := blocks - m.n; free < blocks/4+margin {
			t.Fatalf("round %d: %d blocks free, want %d", round, free, blocks/4+margin)
		}
		seqs := m.seqs()
		for i := range seqs {
			if seqs[i] != m.kernel.seq-uint64(len(seqs)-1-i) {
				t.Fatalf("round %d: kept blocks %v, want the newest %d up to %d", round, seqs, len(seqs), m.kernel.seq)
			}
		}
	}
	if m.taken != uint64(total) {
		t.Errorf("took %d blocks, the kernel handed over %d", m.taken, total)
	}
	m.publish()
	st := m.status()
	oldest := m.at(0)
	var bytes, packets int64
	for i := range m.n {
		bytes += int64(m.at(i).Len)
		packets += int64(m.at(i).Packets)
	}
	if st.Bytes != bytes || st.Packets != packets || st.Oldest.UnixNano() != oldest.First ||
		st.Newest.UnixNano() != frameTime(fs[len(fs)-1]) {
		t.Errorf("status %+v, want %d bytes, %d packets, %v to %v", st, bytes, packets,
			time.Unix(0, oldest.First), time.Unix(0, frameTime(fs[len(fs)-1])))
	}
	if got, want := st.Seconds(), time.Duration(frameTime(fs[len(fs)-1])-oldest.First).Seconds(); got != want {
		t.Errorf("span %vs, want %vs", got, want)
	}
}

// collect is a job's put that keeps the source ports of the frames (the
// frames' numbers) and their times, up to limit frames (0: no limit).
type collect struct {
	ports []int
	times []int64
	limit int
	on    func(n int) // called after each frame with the count
}

func (c *collect) put(ts int64, data []byte, wire int) bool {
	if wire < len(data) || len(data) < 36 {
		panic("bad frame")
	}
	c.ports = append(c.ports, int(data[34])<<8|int(data[35])-1000)
	c.times = append(c.times, ts)
	if c.on != nil {
		c.on(len(c.ports))
	}
	return c.limit == 0 || len(c.ports) < c.limit
}

// span returns the numbers from..to-1.
func span(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestLookbackServeWindow(t *testing.T) {
	const size = 4096
	// 1000 frames 1 ms apart from lbBase; the seam at frame 900.
	fs := lbFrames(1000, 100, 0, time.Millisecond)
	at := func(i int) int64 { return lbBase.Add(time.Duration(i) * time.Millisecond).UnixNano() }
	filter, err := bpfcompile.Compile("udp src port 1100 or udp src port 1850 or udp src port 1950", bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet, Snaplen: 262144})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpfcompile.NewVM(filter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from     int64
		seam     int64
		vm       *bpfcompile.VM
		limit    int
		linkType uint32
		want     []int
		err      bool
	}{
		{name: "window", from: at(100), seam: at(900), want: span(100, 900)},
		{name: "seam between frames", from: at(0), seam: at(900) - 1, want: span(0, 900)},
		{name: "all the ring holds", from: at(0) - int64(time.Hour), seam: at(2000), want: span(0, 1000)},
		{name: "nothing before", from: at(950), seam: at(900), want: nil},
		{name: "filter", from: at(0), seam: at(1900), vm: vm, want: []int{100, 850, 950}},
		{name: "filter and window", from: at(101), seam: at(900), vm: vm, want: []int{850}},
		{name: "limit", from: at(10), seam: at(900), limit: 25, want: span(10, 35)},
		{name: "link type", from: at(0), seam: at(900), linkType: afpacket.LinkTypeLinuxSLL, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemRing(t, size, 128, afpacket.LinkTypeEthernet, testBlocks(size, fs))
			m.kernel.fill(len(m.kernel.blocks))
			if err := m.take(m.conn); err != nil {
				t.Fatal(err)
			}
			var c collect
			c.limit = tc.limit
			lt := tc.linkType
			if lt == 0 {
				lt = afpacket.LinkTypeEthernet
			}
			part := m.serve(m.conn, &lookbackJob{seam: tc.seam, from: tc.from, linkType: lt, vm: tc.vm, put: c.put})
			if (part.err != nil) != tc.err {
				t.Fatalf("err %v", part.err)
			}
			if !slices.Equal(c.ports, tc.want) {
				t.Errorf("frames %v, want %v", c.ports, tc.want)
			}
			if !slices.IsSorted(c.times) {
				t.Error("frames out of time order")
			}
			if part.oldest != frameTime(fs[0]) || part.skipped != 0 {
				t.Errorf("oldest %v skipped %d, want %v, 0", time.Unix(0, part.oldest), part.skipped, time.Unix(0, frameTime(fs[0])))
			}
		})
	}
}

// A copy keeps the ring going: the kernel hands blocks over while it
// walks, and the owner gives the oldest back, copied ones first. When the
// kernel needs blocks not copied yet, they go, and the copy goes on after
// them.
func TestLookbackServeKeepsRingGoing(t *testing.T) {
	const size, blocks = 4096, 64
	held := blocks - blocks/4 - lookbackMargin(blocks) // 40
	for _, tc := range []struct {
		name    string
		arrive  int // blocks the kernel hands over during the first lookbackCopyLook blocks walked
		skipped int
	}{
		{"within the copied blocks", 10, 0},
		{"beyond them", blocks - held, blocks - held - lookbackCopyLook},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := testBlocks(size, lbFrames(held*30, 100, 0, time.Millisecond))[:held]
			n := 0
			for _, b := range old {
				n += len(b)
			}
			seam := lbBase.Add(time.Duration(n) * time.Millisecond)
			later := testBlocks(size, lbFrames(tc.arrive*30, 100, time.Duration(n)*time.Millisecond+time.Second, time.Millisecond))[:tc.arrive]
			m := newMemRing(t, size, blocks, afpacket.LinkTypeEthernet, old)
			m.kernel.fill(len(old))
			if err := m.take(m.conn); err != nil {
				t.Fatal(err)
			}
			m.kernel.blocks = later
			perBlock := len(old[0])
			c := collect{on: func(k int) {
				if k == perBlock { // while the first block is walked
					m.kernel.fill(len(later))
				}
			}}
			part := m.serve(m.conn, &lookbackJob{seam: seam.UnixNano(), from: lbBase.UnixNano(), linkType: afpacket.LinkTypeEthernet, put: c.put})
			if part.err != nil || part.skipped != tc.skipped {
				t.Fatalf("part %+v, want %d blocks skipped", part, tc.skipped)
			}
			var want []int
			i := 0
			for b, fs := range old {
				if b < lookbackCopyLook || b >= lookbackCopyLook+tc.skipped {
					want = append(want, span(i, i+len(fs))...)
				}
				i += len(fs)
			}
			if !slices.Equal(c.ports, want) {
				t.Errorf("frames %v\nwant %v", c.ports, want)
			}
			if m.n > m.geo.held || m.taken != uint64(held+tc.arrive) {
				t.Errorf("%d blocks kept (at most %d), %d taken", m.n, m.geo.held, m.taken)
			}
		})
	}
}
