//go:build linux

package afpacket

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// tagged returns frame with a tag inserted after its MAC addresses.
func tagged(frame []byte, tpid, tci uint16) []byte {
	out := append([]byte(nil), frame[:12]...)
	out = binary.BigEndian.AppendUint16(out, tpid)
	out = binary.BigEndian.AppendUint16(out, tci)
	return append(out, frame[12:]...)
}

func TestRingDecode(t *testing.T) {
	plain := etherFrame(macA, macB, nil, 1, 60)
	big := etherFrame(macA, macB, nil, 2, 1514)
	tests := []struct {
		name    string
		snaplen int
		raw     bool // a link without Ethernet framing
		dropOut bool
		frames  []testFrame
		want    []Packet
	}{
		{
			name:   "plain",
			frames: []testFrame{{data: plain, sec: 1700000000, nsec: 123456789, pkttype: unix.PACKET_HOST, protocol: testEtherType, ifindex: 7}},
			want: []Packet{{Timestamp: 1700000000_123456789, CaptureLength: 60, Length: 60, Data: plain,
				IfIndex: 7, PacketType: unix.PACKET_HOST, Protocol: testEtherType}},
		},
		{
			name:    "snaplen cuts data, not length",
			snaplen: 100,
			frames:  []testFrame{{data: big}},
			want:    []Packet{{CaptureLength: 100, Length: 1514, Data: big[:100]}},
		},
		{
			name:   "kernel truncated (filter snaplen): wire length kept",
			frames: []testFrame{{data: big[:64], wire: 1514}},
			want:   []Packet{{CaptureLength: 64, Length: 1514, Data: big[:64]}},
		},
		{
			name:   "802.1Q tag written back in place",
			frames: []testFrame{{data: plain, vlan: true, tci: 0x2064, protocol: testEtherType}},
			want: []Packet{{CaptureLength: 64, Length: 64, Data: tagged(plain, 0x8100, 0x2064),
				Protocol: testEtherType, VLANPresent: true, VLANTCI: 0x2064, VLANTPID: 0x8100}},
		},
		{
			name:   "802.1ad tag written back via scratch (no room before the frame)",
			frames: []testFrame{{data: plain, vlan: true, tpid: 0x88a8, tci: 5, mac: sllEnd}},
			want: []Packet{{CaptureLength: 64, Length: 64, Data: tagged(plain, 0x88a8, 5),
				VLANPresent: true, VLANTCI: 5, VLANTPID: 0x88a8}},
		},
		{
			name:    "tag then snaplen",
			snaplen: 14,
			frames:  []testFrame{{data: plain, vlan: true, tci: 9, wire: 60}},
			want: []Packet{{CaptureLength: 14, Length: 64, Data: tagged(plain, 0x8100, 9)[:14],
				VLANPresent: true, VLANTCI: 9, VLANTPID: 0x8100}},
		},
		{
			name:   "no tag written back on a non-Ethernet link",
			raw:    true,
			frames: []testFrame{{data: plain[14:], vlan: true, tci: 9}},
			want:   []Packet{{CaptureLength: 46, Length: 46, Data: plain[14:], VLANPresent: true, VLANTCI: 9, VLANTPID: 0x8100}},
		},
		{
			name:    "loopback drops the outgoing copy",
			dropOut: true,
			frames: []testFrame{
				{data: plain, pkttype: unix.PACKET_OUTGOING},
				{data: plain, pkttype: unix.PACKET_HOST},
			},
			want: []Packet{{CaptureLength: 60, Length: 60, Data: plain, PacketType: unix.PACKET_HOST}},
		},
		{
			name:   "outgoing kept elsewhere",
			frames: []testFrame{{data: plain, pkttype: unix.PACKET_OUTGOING}},
			want:   []Packet{{CaptureLength: 60, Length: 60, Data: plain, PacketType: unix.PACKET_OUTGOING}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(8192, 2)
			r.dropOutgoing = tt.dropOut
			r.ether = !tt.raw
			if tt.snaplen != 0 {
				r.snaplen = tt.snaplen
			}
			if !putBlock(r.mem[:r.blockSize], tt.frames) {
				t.Fatal("frames do not fit the block")
			}
			got := walkAll(r)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
			if got := binary.NativeEndian.Uint32(r.mem[bdBlockStatus:]); got != unix.TP_STATUS_KERNEL {
				t.Errorf("block status after walk = %#x, want TP_STATUS_KERNEL", got)
			}
			if r.cur != 1 {
				t.Errorf("cur = %d after one block, want 1", r.cur)
			}
		})
	}
}

// TestRingMatch checks that Match sees the frame as the kernel filter would
// (tag in metadata, not in Data) and that refused frames are skipped.
func TestRingMatch(t *testing.T) {
	r := newTestRing(8192, 1)
	var seen [][]byte
	r.match = func(p *Packet) bool {
		seen = append(seen, append([]byte(nil), p.Data...))
		return p.VLANPresent && p.VLANTCI == 7
	}
	f := etherFrame(macA, macB, nil, 3, 60)
	putBlock(r.mem, []testFrame{{data: f, vlan: true, tci: 6}, {data: f, vlan: true, tci: 7}, {data: f}})
	got := walkAll(r)
	if len(got) != 1 || !bytes.Equal(got[0].Data, tagged(f, 0x8100, 7)) {
		t.Fatalf("got %d packets %+v, want the one with TCI 7, tagged", len(got), got)
	}
	if len(seen) != 3 {
		t.Fatalf("match saw %d frames, want 3", len(seen))
	}
	for i, d := range seen {
		if !bytes.Equal(d, f) {
			t.Errorf("match frame %d = %x, want the untagged frame", i, d)
		}
	}
}

// TestRingWrap walks more blocks than the ring has, as the kernel refills
// them, and checks order.
func TestRingWrap(t *testing.T) {
	r := newTestRing(4096, 3)
	var seq uint32
	for round := range 7 {
		blk := r.mem[r.cur*r.blockSize:][:r.blockSize]
		var fs []testFrame
		for range 5 {
			fs = append(fs, testFrame{data: etherFrame(macA, macB, nil, seq, 100)})
			seq++
		}
		putBlock(blk, fs)
		got := walkAll(r)
		if len(got) != 5 {
			t.Fatalf("round %d: %d packets, want 5", round, len(got))
		}
		for i, p := range got {
			if want := uint32(round*5 + i); frameSeq(p.Data) != want {
				t.Fatalf("round %d packet %d: seq %d, want %d", round, i, frameSeq(p.Data), want)
			}
		}
	}
}

// TestRingCorrupt feeds blocks with out-of-range offsets: the walk ends the
// block without reading outside it.
func TestRingCorrupt(t *testing.T) {
	f := etherFrame(macA, macB, nil, 1, 60)
	tests := []struct {
		name string
		edit func(b []byte)
		want int
	}{
		{"first packet offset past the block", func(b []byte) { binary.NativeEndian.PutUint32(b[bdFirstPkt:], 1<<30) }, 0},
		{"first packet offset inside the header", func(b []byte) { binary.NativeEndian.PutUint32(b[bdFirstPkt:], 4) }, 0},
		{"snaplen past the block", func(b []byte) { binary.NativeEndian.PutUint32(b[bdLen+thSnaplen:], 1<<31) }, 0},
		{"next offset past the block", func(b []byte) { binary.NativeEndian.PutUint32(b[bdLen+thNextOffset:], 1<<20) }, 1},
		{"more packets claimed than present", func(b []byte) { binary.NativeEndian.PutUint32(b[bdNumPkts:], 1000) }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRing(4096, 1)
			putBlock(r.mem, []testFrame{{data: f}, {data: f}})
			tt.edit(r.mem)
			if got := len(walkAll(r)); got != tt.want {
				t.Errorf("%d packets, want %d", got, tt.want)
			}
		})
	}
}

// FuzzRingBlock walks arbitrary bytes as a ring block: the walk must end,
// stay inside the block, and keep CaptureLength == len(Data) ≤ snaplen ≤ Length.
func FuzzRingBlock(f *testing.F) {
	r := newTestRing(4096, 1)
	fr := etherFrame(macA, macB, nil, 1, 60)
	putBlock(r.mem, []testFrame{{data: fr}, {data: fr, vlan: true, tci: 3}, {data: fr, mac: sllEnd, vlan: true}})
	f.Add(append([]byte(nil), r.mem...), 65535, false)
	f.Add(append([]byte(nil), r.mem[:512]...), 20, true)
	f.Fuzz(func(t *testing.T, blk []byte, snaplen int, dropOut bool) {
		if snaplen <= 0 {
			snaplen = 1
		}
		size := (len(blk) + 4095) &^ 4095
		if size < 4096 {
			size = 4096
		}
		r := newTestRing(size, 1)
		copy(r.mem, blk)
		binary.NativeEndian.PutUint32(r.mem[bdBlockStatus:], unix.TP_STATUS_USER)
		r.snaplen = snaplen
		r.dropOutgoing = dropOut
		r.open()
		for n := 0; r.left > 0; n++ {
			if n > size {
				t.Fatal("walk does not end")
			}
			p, ok := r.next()
			if !ok {
				continue
			}
			if p.CaptureLength != len(p.Data) || len(p.Data) > snaplen || p.Length < p.CaptureLength {
				t.Fatalf("CaptureLength %d, len(Data) %d, snaplen %d, Length %d", p.CaptureLength, len(p.Data), snaplen, p.Length)
			}
		}
		r.release()
	})
}

// TestRingAllocs is the allocation guard on the per-packet path.
func TestRingAllocs(t *testing.T) {
	r := newTestRing(1<<20, 1)
	fs := make([]testFrame, 2000)
	for i := range fs {
		fs[i] = testFrame{data: etherFrame(macA, macB, nil, uint32(i), 60), vlan: i%2 == 0, tci: 1}
	}
	putBlock(r.mem, fs)
	r.open()
	var sum int
	allocs := testing.AllocsPerRun(1000, func() {
		p, _ := r.next()
		sum += p.CaptureLength
	})
	if allocs != 0 {
		t.Errorf("ring walk allocates %v times per packet, want 0", allocs)
	}
	if sum == 0 {
		t.Error("walked no data")
	}
}

// BenchmarkRingWalk measures the per-packet cost of walking a full block
// (64-byte frames, every fourth tagged) in memory, without the kernel.
func BenchmarkRingWalk(b *testing.B) {
	const blockSize = 1 << 20
	r := newTestRing(blockSize, 1)
	var fs []testFrame
	for i := 0; ; i++ {
		f := testFrame{data: etherFrame(macA, macB, nil, uint32(i), 60), vlan: i%4 == 0, tci: 1}
		if !putBlock(r.mem, append(fs, f)) {
			break
		}
		fs = append(fs, f)
	}
	img := append([]byte(nil), r.mem...)
	b.ReportAllocs()
	b.ResetTimer()
	var n, bytes int
	for n < b.N {
		b.StopTimer()
		copy(r.mem, img) // restore the block the tag write-back changed
		b.StartTimer()
		r.open()
		for r.left > 0 && n < b.N {
			p, _ := r.next()
			bytes += len(p.Data)
			n++
		}
		r.release()
		r.cur = 0
	}
	b.ReportMetric(float64(len(fs)), "pkts/block")
	_ = bytes
}
