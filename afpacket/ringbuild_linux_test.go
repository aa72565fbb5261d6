//go:build linux

package afpacket

import "github.com/pcapdaemon/pcapdaemon/afpacket/afpackettest"

// testFrame describes one frame of a synthetic ring block, laid out as the
// kernel's tpacket_rcv lays it out (afpackettest.Frame, with the short
// names of this package's tests).
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
const kernelMac = afpackettest.KernelMac

// putBlock writes a block holding frames into b (one blockSize block) and
// marks it TP_STATUS_USER. It returns false if they do not fit.
func putBlock(b []byte, frames []testFrame) bool {
	return afpackettest.PutBlock(b, 0, testFrames(frames))
}

// testFrames converts frames for afpackettest.
func testFrames(frames []testFrame) []afpackettest.Frame {
	out := make([]afpackettest.Frame, len(frames))
	for i, f := range frames {
		out[i] = afpackettest.Frame{
			Data: f.data, Wire: f.wire, Sec: f.sec, Nsec: f.nsec, PktType: f.pkttype, Protocol: f.protocol,
			IfIndex: f.ifindex, HAType: f.hatype, Addr: f.addr, VLAN: f.vlan, TPID: f.tpid, TCI: f.tci, Mac: f.mac,
		}
	}
	return out
}

// newTestRing returns a ring of n synthetic blocks of size bytes, all owned
// by the kernel.
func newTestRing(size, n int) *ring {
	return &ring{
		mem:       make([]byte, size*n),
		blockSize: size,
		numBlocks: n,
		walker:    walker{snaplen: DefaultSnaplen, framing: framingEthernet},
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
