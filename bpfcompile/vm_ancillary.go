package bpfcompile

import (
	"encoding/binary"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// Linux ancillary data offsets (<linux/filter.h>). An absolute load (of any
// size) at SKF_AD_OFF + SKF_AD_x (cbpf.AncillaryBase + x) does not read the
// packet: the kernel loads the value from the socket buffer's metadata
// instead.
const (
	ancProtocol       = 0  // SKF_AD_PROTOCOL: skb->protocol (EtherType)
	ancPktType        = 4  // SKF_AD_PKTTYPE: PACKET_HOST, PACKET_OUTGOING, ...
	ancIfIndex        = 8  // SKF_AD_IFINDEX
	ancNLAttr         = 12 // SKF_AD_NLATTR: find netlink attribute X from offset A
	ancNLAttrNest     = 16 // SKF_AD_NLATTR_NEST: same, inside the nested attribute at A
	ancMark           = 20 // SKF_AD_MARK
	ancQueue          = 24 // SKF_AD_QUEUE
	ancHAType         = 28 // SKF_AD_HATYPE: the device's ARPHRD type
	ancRXHash         = 32 // SKF_AD_RXHASH
	ancCPU            = 36 // SKF_AD_CPU
	ancAluXorX        = 40 // SKF_AD_ALU_XOR_X: A ^= X, no load at all
	ancVLANTag        = 44 // SKF_AD_VLAN_TAG: the stripped 802.1Q TCI
	ancVLANTagPresent = 48 // SKF_AD_VLAN_TAG_PRESENT
	ancPayOffset      = 52 // SKF_AD_PAY_OFFSET
	ancRandom         = 56 // SKF_AD_RANDOM
	ancVLANTPID       = 60 // SKF_AD_VLAN_TPID: the stripped tag's TPID
	ancMax            = 64 // SKF_AD_MAX
)

// ancillaryName returns the name libpcap's bpf_image prints for the
// ancillary offset off (k - SKF_AD_OFF), or "" for an offset it does not know.
func ancillaryName(off uint32) string {
	switch off {
	case ancProtocol:
		return "proto"
	case ancPktType:
		return "type"
	case ancIfIndex:
		return "ifidx"
	case ancNLAttr:
		return "nla"
	case ancNLAttrNest:
		return "nlan"
	case ancMark:
		return "mark"
	case ancQueue:
		return "queue"
	case ancHAType:
		return "hatype"
	case ancRXHash:
		return "rxhash"
	case ancCPU:
		return "cpu"
	case ancAluXorX:
		return "xor_x"
	case ancVLANTag:
		return "vlan_tci"
	case ancVLANTagPresent:
		return "vlanp"
	case ancPayOffset:
		return "poff"
	case ancRandom:
		return "random"
	case ancVLANTPID:
		return "vlan_tpid"
	}
	return ""
}

// isAncillary reports whether k, the operand of an absolute load, names an
// ancillary value the kernel knows (bpf_anc_helper).
func isAncillary(k uint32) bool {
	return k >= cbpf.AncillaryBase && ancillaryName(k-cbpf.AncillaryBase) != ""
}

// Meta is the metadata a Linux socket buffer carries beside the packet
// bytes, which a program reads with ancillary loads. A capture fills it
// from the TPACKET_V3 frame header and the interface.
type Meta struct {
	Protocol    uint16 // EtherType of the packet (skb->protocol, host order)
	PktType     uint8  // PACKET_HOST (0), PACKET_BROADCAST, PACKET_MULTICAST, PACKET_OTHERHOST, PACKET_OUTGOING (4)
	IfIndex     uint32 // index of the interface the packet was seen on
	HAType      uint16 // ARPHRD type of that interface (1 for Ethernet)
	Mark        uint32 // skb->mark
	Queue       uint16 // skb->queue_mapping
	RXHash      uint32 // skb->hash
	CPU         uint32 // CPU that ran the filter
	VLANTCI     uint16 // tag control information of the stripped 802.1Q tag
	VLANPresent bool   // whether the kernel stripped a VLAN tag
	VLANTPID    uint16 // TPID of the stripped tag (0x8100, 0x88a8)
	PayOffset   uint32 // offset of the transport payload (skb_get_poff)
	Random      uint32 // the value SKF_AD_RANDOM returns
}

// ancillaryValue returns the value of the ancillary load at offset off, for a
// packet pkt with registers a and x. ok is false when there is no metadata:
// libpcap's user-space filter rejects the packet then.
func ancillaryValue(off uint32, meta *Meta, pkt []byte, a, x uint32) (v uint32, ok bool) {
	if meta == nil {
		return 0, false
	}
	switch off {
	case ancProtocol:
		return uint32(meta.Protocol), true
	case ancPktType:
		return uint32(meta.PktType), true
	case ancIfIndex:
		return meta.IfIndex, true
	case ancNLAttr:
		return nlAttrFind(pkt, a, x), true
	case ancNLAttrNest:
		return nlAttrFindNested(pkt, a, x), true
	case ancMark:
		return meta.Mark, true
	case ancQueue:
		return uint32(meta.Queue), true
	case ancHAType:
		return uint32(meta.HAType), true
	case ancRXHash:
		return meta.RXHash, true
	case ancCPU:
		return meta.CPU, true
	case ancVLANTag:
		return uint32(meta.VLANTCI), true
	case ancVLANTagPresent:
		if meta.VLANPresent {
			return 1, true
		}
		return 0, true
	case ancPayOffset:
		return meta.PayOffset, true
	case ancRandom:
		return meta.Random, true
	case ancVLANTPID:
		return uint32(meta.VLANTPID), true
	}
	return 0, false
}

// Netlink attribute layout (<linux/netlink.h>): a 4-byte header of length
// and type in host byte order (little-endian here), padded to 4 bytes.
const (
	nlaHdrLen   = 4
	nlaTypeMask = 0x3fff // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// nlAttrFind returns the offset of the first netlink attribute of type typ
// in the attribute stream that starts at offset start, or 0, as the kernel's
// SKF_AD_NLATTR does.
func nlAttrFind(pkt []byte, start, typ uint32) uint32 {
	n := uint32(len(pkt))
	if n < nlaHdrLen || start > n-nlaHdrLen {
		return 0
	}
	return nlaScan(pkt, start, int64(n-start), typ)
}

// nlAttrFindNested is SKF_AD_NLATTR_NEST: start is the offset of an
// attribute; search typ among the attributes nested in it.
func nlAttrFindNested(pkt []byte, start, typ uint32) uint32 {
	n := uint32(len(pkt))
	if n < nlaHdrLen || start > n-nlaHdrLen {
		return 0
	}
	l := uint32(binary.LittleEndian.Uint16(pkt[start:]))
	if l > n-start {
		return 0
	}
	return nlaScan(pkt, start+nlaHdrLen, int64(l)-nlaHdrLen, typ)
}

// nlaScan walks the attributes in pkt[off:off+rem] and returns the offset of
// the first one of type typ, or 0.
func nlaScan(pkt []byte, off uint32, rem int64, typ uint32) uint32 {
	for rem >= nlaHdrLen && int64(off)+nlaHdrLen <= int64(len(pkt)) {
		l := int64(binary.LittleEndian.Uint16(pkt[off:]))
		t := uint32(binary.LittleEndian.Uint16(pkt[off+2:]))
		if l < nlaHdrLen || l > rem {
			return 0
		}
		if t&nlaTypeMask == typ {
			return off
		}
		step := (l + 3) &^ 3
		rem -= step
		off += uint32(step)
	}
	return 0
}
