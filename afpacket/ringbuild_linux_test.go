//go:build linux

package afpacket

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// testFrame describes one frame of a synthetic ring block, laid out as the
// kernel's tpacket_rcv lays it out.
type testFrame struct {
	data     []byte // the frame as the kernel stores it (tag removed)
	wire     int    // tp_len; len(data) when zero
	sec      uint32
	nsec     uint32
	pkttype  uint8
	protocol uint16
	ifindex  int32
	hatype   uint16
	addr     []byte // sll_addr; sll_halen is its length
	vlan     bool   // TP_STATUS_VLAN_VALID
	tpid     uint16 // tp_vlan_tpid; TP_STATUS_VLAN_TPID_VALID when non-zero
	tci      uint16
	mac      uint16 // tp_mac; 82 (as the kernel for Ethernet) when zero
}

// kernelMac is tp_mac for a 14-byte link header in a TPACKET_V3 ring with no
// reserve: TPACKET_ALIGN(68 + 16) - 14.
const kernelMac = 82

// putBlock writes a block holding frames into b (one blockSize block) and
// marks it TP_STATUS_USER. It returns false if they do not fit.
func putBlock(b []byte, frames []testFrame) bool {
	clear(b)
	ne := binary.NativeEndian
	off := bdLen
	ne.PutUint32(b[bdNumPkts:], uint32(len(frames)))
	ne.PutUint32(b[bdFirstPkt:], uint32(off))
	for i, f := range frames {
		mac := int(f.mac)
		if mac == 0 {
			mac = kernelMac
		}
		total := (mac + len(f.data) + 15) &^ 15
		if off+total > len(b) {
			return false
		}
		h := b[off:]
		next := total
		if i == len(frames)-1 {
			next = 0
		}
		wire := f.wire
		if wire == 0 {
			wire = len(f.data)
		}
		var status uint32 = unix.TP_STATUS_USER
		if f.vlan {
			status |= unix.TP_STATUS_VLAN_VALID
			if f.tpid != 0 {
				status |= unix.TP_STATUS_VLAN_TPID_VALID
			}
		}
		ne.PutUint32(h[thNextOffset:], uint32(next))
		ne.PutUint32(h[thSec:], f.sec)
		ne.PutUint32(h[thNsec:], f.nsec)
		ne.PutUint32(h[thSnaplen:], uint32(len(f.data)))
		ne.PutUint32(h[thLen:], uint32(wire))
		ne.PutUint32(h[thStatus:], status)
		ne.PutUint16(h[thMac:], uint16(mac))
		ne.PutUint32(h[thVLANTCI:], uint32(f.tci))
		ne.PutUint16(h[thVLANTPID:], f.tpid)
		ne.PutUint16(h[sllBase:], unix.AF_PACKET)
		binary.BigEndian.PutUint16(h[sllProtocol:], f.protocol)
		ne.PutUint32(h[sllIfindex:], uint32(f.ifindex))
		ne.PutUint16(h[sllHatype:], f.hatype)
		h[sllPkttype] = f.pkttype
		h[sllHalen] = byte(len(f.addr))
		copy(h[sllAddr:sllAddr+8], f.addr)
		copy(h[mac:], f.data)
		off += total
	}
	ne.PutUint32(b[bdBlockStatus:], unix.TP_STATUS_USER)
	return true
}

// newTestRing returns a ring of n synthetic blocks of size bytes, all owned
// by the kernel.
func newTestRing(size, n int) *ring {
	return &ring{
		mem:       make([]byte, size*n),
		blockSize: size,
		numBlocks: n,
		snaplen:   DefaultSnaplen,
		framing:   framingEthernet,
	}
}

// walkAll walks every ready block of r from cur on, handing each back, and
// returns copies of the packets.
func walkAll(r *ring) []Packet {
	var out []Packet
	for r.ready() {
		r.open()
		for r.left > 0 {
			var p Packet
			if r.next(&p) {
				p.Data = append([]byte(nil), p.Data...)
				out = append(out, p)
			}
		}
		r.release()
	}
	return out
}
