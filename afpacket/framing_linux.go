//go:build linux

package afpacket

// A framing says how a frame in the ring becomes the frame ReadPacket
// returns: which link-layer header is written in front of it, and where a
// VLAN tag the kernel moved into metadata goes back.
type framing uint8

const (
	// framingEthernet: the ring holds the Ethernet header (SOCK_RAW); a
	// tag goes back after the MAC addresses.
	framingEthernet framing = iota + 1
	// framingRaw: the ring holds no link-layer header (tun, IP tunnels);
	// a tag stays in metadata, as libpcap leaves it.
	framingRaw
	// framingSLL: cooked capture (SOCK_DGRAM) with a 16-byte LINUX_SLL
	// header built from the sockaddr_ll; a tag goes before its protocol
	// field, as libpcap puts it.
	framingSLL
	// framingSLL2: cooked capture with a 20-byte LINUX_SLL2 header (the
	// "any" pseudo-interface); a tag stays in metadata, as libpcap
	// leaves it.
	framingSLL2
)

// Lengths of the cooked headers (libpcap's pcap/sll.h).
const (
	sllHeaderLen  = 16
	sll2HeaderLen = 20
)

// headerLen returns the length of the header f writes in front of a frame.
func (f framing) headerLen() int {
	switch f {
	case framingSLL:
		return sllHeaderLen
	case framingSLL2:
		return sll2HeaderLen
	default:
		return 0
	}
}

// tagOffset returns where in the frame (header included) a VLAN tag goes
// back, or -1 when it is left in metadata.
func (f framing) tagOffset() int {
	switch f {
	case framingEthernet:
		return macAddrsLen
	case framingSLL:
		return sllHeaderLen - 2
	default:
		return -1
	}
}

// putHeader writes f's cooked header into hdr (headerLen bytes) from the
// ring frame's tpacket3_hdr and sockaddr_ll h. Multi-byte fields are big
// endian; sll_protocol already is.
//
//	LINUX_SLL:  pkttype(2) hatype(2) halen(2) addr(8) protocol(2)
//	LINUX_SLL2: protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
func (f framing) putHeader(hdr, h []byte) {
	switch f {
	case framingSLL:
		be.PutUint16(hdr[0:], uint16(h[sllPkttype]))
		be.PutUint16(hdr[2:], ne.Uint16(h[sllHatype:]))
		be.PutUint16(hdr[4:], uint16(h[sllHalen]))
		copy(hdr[6:14], h[sllAddr:sllAddr+8])
		copy(hdr[14:16], h[sllProtocol:sllProtocol+2])
	case framingSLL2:
		copy(hdr[0:2], h[sllProtocol:sllProtocol+2])
		hdr[2], hdr[3] = 0, 0
		be.PutUint32(hdr[4:], ne.Uint32(h[sllIfindex:]))
		be.PutUint16(hdr[8:], ne.Uint16(h[sllHatype:]))
		hdr[10] = h[sllPkttype]
		hdr[11] = h[sllHalen]
		copy(hdr[12:20], h[sllAddr:sllAddr+8])
	}
}
