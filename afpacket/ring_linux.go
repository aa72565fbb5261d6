//go:build linux

package afpacket

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets in struct tpacket_block_desc (linux/if_packet.h): a 48-byte block
// header whose tpacket_hdr_v1 starts at byte 8.
const (
	bdBlockStatus = 8  // __u32 block_status
	bdNumPkts     = 12 // __u32 num_pkts
	bdFirstPkt    = 16 // __u32 offset_to_first_pkt
	bdLen         = 48 // sizeof(struct tpacket_block_desc), rounded
)

// Offsets in struct tpacket3_hdr and the struct sockaddr_ll that follows it
// at TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) = 48.
const (
	thNextOffset = 0  // __u32 tp_next_offset
	thSec        = 4  // __u32 tp_sec
	thNsec       = 8  // __u32 tp_nsec
	thSnaplen    = 12 // __u32 tp_snaplen
	thLen        = 16 // __u32 tp_len
	thStatus     = 20 // __u32 tp_status
	thMac        = 24 // __u16 tp_mac
	thVLANTCI    = 32 // hv1.tp_vlan_tci (__u32)
	thVLANTPID   = 36 // hv1.tp_vlan_tpid (__u16)
	sllBase      = 48
	sllProtocol  = sllBase + 2  // __be16 sll_protocol
	sllIfindex   = sllBase + 4  // int sll_ifindex
	sllHatype    = sllBase + 8  // unsigned short sll_hatype
	sllPkttype   = sllBase + 10 // unsigned char sll_pkttype
	sllHalen     = sllBase + 11 // unsigned char sll_halen
	sllAddr      = sllBase + 12 // unsigned char sll_addr[8]
	sllEnd       = sllBase + 20 // end of struct sockaddr_ll
)

// vlanTagLen is the length of an 802.1Q tag: TPID and TCI.
const vlanTagLen = 4

// macAddrsLen is the length of the destination and source MAC addresses,
// after which a VLAN tag is written back.
const macAddrsLen = 12

var (
	ne = binary.NativeEndian
	be = binary.BigEndian
)

// A ring walks the blocks of a TPACKET_V3 receive ring (see
// Documentation/networking/packet_mmap.rst). The kernel fills blocks in
// order and hands each one over by setting TP_STATUS_USER in its
// block_status; the reader walks the block's packets through tp_next_offset
// and hands it back by writing TP_STATUS_KERNEL. Every offset read from the
// ring is checked against the block's bounds, so a corrupt block ends its walk
// instead of reading outside it.
//
// A ring is used by one goroutine at a time and holds no locks: the only
// synchronisation with the kernel is the block_status word, read and written
// atomically once per block.
type ring struct {
	mem       []byte // the mapped ring: numBlocks blocks of blockSize bytes
	blockSize int
	numBlocks int

	cur     int  // index of the block being walked or waited for
	walking bool // blk is owned by us and must be handed back

	// The block being walked (blk is mem's block cur while walking), and
	// how its frames become Packets.
	walker

	// The keeping reader's blocks (keep_linux.go): head is the oldest
	// block kept, kept how many are, in ring order from head.
	head, kept int
}

// A walker decodes the frames of one block in ring order.
type walker struct {
	blk  []byte // the block
	off  int    // offset in blk of the next tpacket3_hdr
	left int    // packets in blk not yet walked

	snaplen   int                // Data is cut to snaplen bytes
	framing   framing            // how a ring frame becomes a pcap frame
	loIfindex int                // skip PACKET_OUTGOING copies seen on this (loopback) interface; 0: none
	match     func(*Packet) bool // user-space filter, or nil
	mp        Packet             // the Packet handed to match (not on the stack: match is opaque)
	scratch   []byte             // for frames the ring has no room to grow in place
}

// blockStatus returns a pointer to block i's block_status word.
func (r *ring) blockStatus(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[i*r.blockSize+bdBlockStatus]))
}

// block returns block i of the ring.
func (r *ring) block(i int) []byte {
	base := i * r.blockSize
	return r.mem[base : base+r.blockSize : base+r.blockSize]
}

// ready reports whether the kernel has handed block cur to user space.
func (r *ring) ready() bool {
	return atomic.LoadUint32(r.blockStatus(r.cur))&unix.TP_STATUS_USER != 0
}

// filling returns the number of packets in block cur while the kernel
// still owns it. The reader is caught up when it waits, so a block cur that
// is not ready is the one the kernel fills (it zeroes num_pkts when it
// opens a block), and the kernel counts packets into it as it goes: a
// racing read returns a count that is at most stale, never torn.
func (r *ring) filling() uint32 {
	return r.numPkts(r.cur)
}

// numPkts reads block i's num_pkts atomically (the kernel may be counting).
func (r *ring) numPkts(i int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.mem[i*r.blockSize+bdNumPkts])))
}

// open starts the walk of block cur, which must be ready.
func (r *ring) open() {
	r.start(r.block(r.cur))
	r.walking = true
}

// start begins the walk of blk.
func (w *walker) start(blk []byte) {
	w.blk = blk
	w.left = int(ne.Uint32(blk[bdNumPkts:]))
	w.off = int(ne.Uint32(blk[bdFirstPkt:]))
	if w.off < bdLen || w.off > len(blk) {
		w.left = 0
	}
}

// release hands the block being walked back to the kernel and moves on to
// the next one. Frames of the released block may be overwritten at once.
func (r *ring) release() {
	atomic.StoreUint32(r.blockStatus(r.cur), unix.TP_STATUS_KERNEL)
	r.walking = false
	r.blk = nil
	r.left = 0
	r.cur++
	if r.cur == r.numBlocks {
		r.cur = 0
	}
}

// next decodes the next packet of the block being walked (r.left > 0) into
// p. It reports false for a frame that is skipped: an outgoing copy on
// loopback, a frame match refuses, or a corrupt header (which also ends the
// block); p is then left in an unspecified state. Writing through p rather
// than returning a Packet saves a copy of the struct per packet.
func (r *walker) next(p *Packet) bool {
	b := r.blk
	off := r.off
	r.left--
	if off < 0 || off > len(b)-sllEnd {
		r.left = 0
		return false
	}
	h := b[off : off+sllEnd]
	if next := int(ne.Uint32(h[thNextOffset:])); next > 0 {
		r.off = off + next
	} else {
		r.left = 0 // the last packet, or a corrupt offset
	}

	pkttype := h[sllPkttype]
	ifindex := int(int32(ne.Uint32(h[sllIfindex:])))
	if pkttype == unix.PACKET_OUTGOING && ifindex == r.loIfindex && r.loIfindex != 0 {
		return false
	}
	start := off + int(ne.Uint16(h[thMac:]))
	end := start + int(ne.Uint32(h[thSnaplen:]))
	if end > len(b) || end < start {
		r.left = 0
		return false
	}
	status := ne.Uint32(h[thStatus:])
	*p = Packet{
		Timestamp:  int64(ne.Uint32(h[thSec:]))*1e9 + int64(ne.Uint32(h[thNsec:])),
		Length:     int(ne.Uint32(h[thLen:])),
		IfIndex:    ifindex,
		PacketType: pkttype,
		Protocol:   be.Uint16(h[sllProtocol:]),
	}
	if status&unix.TP_STATUS_VLAN_VALID != 0 {
		p.VLANPresent = true
		p.VLANTCI = uint16(ne.Uint32(h[thVLANTCI:]))
		p.VLANTPID = ne.Uint16(h[thVLANTPID:])
		if p.VLANTPID == 0 && status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
			p.VLANTPID = unix.ETH_P_8021Q // kernels before 4.0 did not say
		}
	}

	// The frame is b[s:e], or data once it had to move to scratch. The
	// kernel leaves room between the sockaddr_ll and the frame (tp_mac is
	// aligned past it, further still on cooked sockets), so headers and
	// tags are written in place, in the block we own, down to lo.
	s, e, lo := start, end, off+sllEnd
	var data []byte
	if hl := r.framing.headerLen(); hl > 0 {
		var hdr [sll2HeaderLen]byte
		r.framing.putHeader(hdr[:hl], h)
		if s-hl >= lo {
			s -= hl
			copy(b[s:s+hl], hdr[:hl])
		} else {
			data = r.toScratch(hdr[:hl], b[s:e])
		}
		p.Length += hl
	}
	if data != nil {
		p.Data = data[:len(data):len(data)]
	} else {
		p.Data = b[s:e:e]
	}
	if r.match != nil {
		r.mp = *p
		r.mp.CaptureLength = len(p.Data)
		ok := r.match(&r.mp)
		r.mp = Packet{}
		if !ok {
			return false
		}
	}
	if at := r.framing.tagOffset(); p.VLANPresent && at >= 0 && len(p.Data) >= at {
		if data == nil && s-vlanTagLen >= lo {
			copy(b[s-vlanTagLen:s-vlanTagLen+at], b[s:s+at])
			s -= vlanTagLen
			putTag(b[s+at:], p.VLANTPID, p.VLANTCI)
			p.Data = b[s:e:e]
		} else {
			if data == nil {
				data = r.toScratch(nil, b[s:e])
			}
			n := len(data)
			data = data[:n+vlanTagLen] // toScratch leaves room
			copy(data[at+vlanTagLen:], data[at:n])
			putTag(data[at:], p.VLANTPID, p.VLANTCI)
			p.Data = data[:len(data):len(data)]
		}
		p.Length += vlanTagLen
	}
	if len(p.Data) > r.snaplen {
		p.Data = p.Data[:r.snaplen:r.snaplen]
	}
	p.CaptureLength = len(p.Data)
	if p.Length < p.CaptureLength {
		p.Length = p.CaptureLength
	}
	return true
}

// putTag writes an 802.1Q/802.1ad tag: TPID, then TCI.
func putTag(b []byte, tpid, tci uint16) {
	be.PutUint16(b, tpid)
	be.PutUint16(b[2:], tci)
}

// toScratch copies prefix and frame into the handle's scratch buffer, with
// room for a tag after them, and returns the copy. The buffer grows to the
// largest frame seen, so this allocates only while it grows.
func (r *walker) toScratch(prefix, frame []byte) []byte {
	n := len(prefix) + len(frame)
	if cap(r.scratch) < n+vlanTagLen {
		r.scratch = make([]byte, n+vlanTagLen)
	}
	d := r.scratch[:n]
	copy(d, prefix)
	copy(d[len(prefix):], frame)
	return d
}
