//go:build linux

package afpacket

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"testing"
	"time"

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
	payload := plain[14:]
	sll2 := func(proto uint16, ifindex uint32, pkttype byte) []byte {
		h := binary.BigEndian.AppendUint16(nil, proto)
		h = append(h, 0, 0)
		h = binary.BigEndian.AppendUint32(h, ifindex)
		h = binary.BigEndian.AppendUint16(h, 1) // ARPHRD_ETHER
		h = append(h, pkttype, 6)
		h = append(h, macB...)
		return append(append(h, 0, 0), payload...)
	}
	sll := func(proto uint16, pkttype byte, tag []byte) []byte {
		h := binary.BigEndian.AppendUint16(nil, uint16(pkttype))
		h = binary.BigEndian.AppendUint16(h, 1) // ARPHRD_ETHER
		h = binary.BigEndian.AppendUint16(h, 6)
		h = append(append(h, macB...), 0, 0)
		h = append(h, tag...)
		h = binary.BigEndian.AppendUint16(h, proto)
		return append(h, payload...)
	}
	const cookedMac = 96 // tp_mac of a SOCK_DGRAM ring: TPACKET_ALIGN(68) + 16
	tests := []struct {
		name      string
		snaplen   int
		framing   framing // framingEthernet when zero
		loIfindex int
		frames    []testFrame
		want      []Packet
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
			name:    "no tag written back on a non-Ethernet link",
			framing: framingRaw,
			frames:  []testFrame{{data: plain[14:], vlan: true, tci: 9}},
			want:    []Packet{{CaptureLength: 46, Length: 46, Data: plain[14:], VLANPresent: true, VLANTCI: 9, VLANTPID: 0x8100}},
		},
		{
			name:      "loopback drops the outgoing copy",
			loIfindex: 1,
			frames: []testFrame{
				{data: plain, pkttype: unix.PACKET_OUTGOING, ifindex: 1},
				{data: plain, pkttype: unix.PACKET_OUTGOING, ifindex: 2},
				{data: plain, pkttype: unix.PACKET_HOST, ifindex: 1},
			},
			want: []Packet{
				{CaptureLength: 60, Length: 60, Data: plain, PacketType: unix.PACKET_OUTGOING, IfIndex: 2},
				{CaptureLength: 60, Length: 60, Data: plain, PacketType: unix.PACKET_HOST, IfIndex: 1},
			},
		},
		{
			name:    "LINUX_SLL2 header built in place",
			framing: framingSLL2,
			frames: []testFrame{{data: payload, mac: cookedMac, protocol: testEtherType, ifindex: 3,
				pkttype: unix.PACKET_OTHERHOST, hatype: 1, addr: macB}},
			want: []Packet{{CaptureLength: 66, Length: 66, Data: sll2(testEtherType, 3, unix.PACKET_OTHERHOST),
				IfIndex: 3, PacketType: unix.PACKET_OTHERHOST, Protocol: testEtherType}},
		},
		{
			name:    "LINUX_SLL2 header via scratch, tag left in metadata",
			framing: framingSLL2,
			frames: []testFrame{{data: payload, mac: sllEnd, protocol: testEtherType, ifindex: 3,
				hatype: 1, addr: macB, vlan: true, tci: 8}},
			want: []Packet{{CaptureLength: 66, Length: 66, Data: sll2(testEtherType, 3, 0),
				IfIndex: 3, Protocol: testEtherType, VLANPresent: true, VLANTCI: 8, VLANTPID: 0x8100}},
		},
		{
			name:    "LINUX_SLL header with the tag before its protocol",
			framing: framingSLL,
			frames: []testFrame{{data: payload, mac: cookedMac, protocol: testEtherType,
				hatype: 1, addr: macB, vlan: true, tci: 9}},
			want: []Packet{{CaptureLength: 66, Length: 66, Data: sll(testEtherType, 0, []byte{0x81, 0, 0, 9}),
				Protocol: testEtherType, VLANPresent: true, VLANTCI: 9, VLANTPID: 0x8100}},
		},
		{
			name:    "LINUX_SLL header and tag via scratch",
			framing: framingSLL,
			frames: []testFrame{{data: payload, mac: sllEnd + 8, protocol: testEtherType,
				hatype: 1, addr: macB, vlan: true, tci: 9}},
			want: []Packet{{CaptureLength: 66, Length: 66, Data: sll(testEtherType, 0, []byte{0x81, 0, 0, 9}),
				Protocol: testEtherType, VLANPresent: true, VLANTCI: 9, VLANTPID: 0x8100}},
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
			r.loIfindex = tt.loIfindex
			if tt.framing != 0 {
				r.framing = tt.framing
			}
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
	f.Add(append([]byte(nil), r.mem...), 65535, uint8(framingEthernet))
	f.Add(append([]byte(nil), r.mem[:512]...), 20, uint8(framingSLL))
	f.Fuzz(func(t *testing.T, blk []byte, snaplen int, fr uint8) {
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
		r.framing = framing(fr%4 + 1)
		r.loIfindex = int(fr / 4)
		r.open()
		for n := 0; r.left > 0; n++ {
			if n > size {
				t.Fatal("walk does not end")
			}
			var p Packet
			if !r.next(&p) {
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
	var p Packet
	allocs := testing.AllocsPerRun(1000, func() {
		r.next(&p)
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
	putBlock(r.mem, fs) // the last, failed attempt left a partial block
	img := append([]byte(nil), r.mem...)
	b.ReportAllocs()
	b.ResetTimer()
	var n, bytes int
	for n < b.N {
		b.StopTimer()
		copy(r.mem, img) // restore the block the tag write-back changed
		b.StartTimer()
		r.open()
		var p Packet
		for r.left > 0 && n < b.N {
			r.next(&p)
			bytes += len(p.Data)
			n++
		}
		r.release()
		r.cur = 0
	}
	b.ReportMetric(float64(len(fs)), "pkts/block")
	_ = bytes
}

// BenchmarkReadPacketSynthetic measures Conn.ReadPacket's path (the handle's
// loop around the walk) over synthetic blocks that are always ready.
func BenchmarkReadPacketSynthetic(b *testing.B) {
	const blockSize = 1 << 20
	r := newTestRing(blockSize, 2)
	var fs []testFrame
	for i := 0; ; i++ {
		f := testFrame{data: etherFrame(macA, macB, nil, uint32(i), 60)}
		if !putBlock(r.mem[:blockSize], append(fs, f)) {
			break
		}
		fs = append(fs, f)
	}
	putBlock(r.mem[:blockSize], fs) // the last, failed attempt left a partial block
	copy(r.mem[blockSize:], r.mem[:blockSize])
	c := &Conn{h: handle{ring: *r}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c.h.left == 0 {
			// Hand the next block over again, as the kernel would.
			next := (c.h.cur + 1) % 2
			if !c.h.walking {
				next = c.h.cur
			}
			binary.NativeEndian.PutUint32(c.h.mem[next*blockSize+bdBlockStatus:], unix.TP_STATUS_USER)
		}
		if _, err := c.ReadPacket(ctx, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
