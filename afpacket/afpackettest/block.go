package afpackettest

import "encoding/binary"

// Offsets in struct tpacket_block_desc: a 48-byte block header whose
// struct tpacket_hdr_v1 starts at byte 8.
const (
	bdBlockStatus = 8
	bdNumPkts     = 12
	bdFirstPkt    = 16
	bdBlkLen      = 20
	bdSeqNum      = 24
	bdFirstSec    = 32
	bdFirstNsec   = 36
	bdLastSec     = 40
	bdLastNsec    = 44
	// BlockHeaderLen is the length of the block descriptor: the offset
	// of the first frame.
	BlockHeaderLen = 48
)

// Offsets in struct tpacket3_hdr and the struct sockaddr_ll after it.
const (
	thNextOffset = 0
	thSec        = 4
	thNsec       = 8
	thSnaplen    = 12
	thLen        = 16
	thStatus     = 20
	thMac        = 24
	thVLANTCI    = 32
	thVLANTPID   = 36
	sllBase      = 48
	sllProtocol  = sllBase + 2
	sllIfindex   = sllBase + 4
	sllHatype    = sllBase + 8
	sllPkttype   = sllBase + 10
	sllHalen     = sllBase + 11
	sllAddr      = sllBase + 12
	// FrameHeaderLen is the length of struct tpacket3_hdr and the struct
	// sockaddr_ll after it (TPACKET3_HDRLEN): no frame starts closer
	// to its header.
	FrameHeaderLen = sllBase + 20
)

// Status bits (tp_status, block_status) and the address family.
const (
	StatusKernel        = 0
	StatusUser          = 1 << 0
	statusVLANValid     = 1 << 4
	statusVLANTPIDValid = 1 << 6
	afPacket            = 17
)

// KernelMac is tp_mac for a 14-byte link header in a ring with no
// reserve: TPACKET_ALIGN(68 + 16) - 14, where raw Ethernet frames start.
const KernelMac = 82

// CookedMac is tp_mac of a cooked (SOCK_DGRAM) ring: TPACKET_ALIGN(68 + 16).
const CookedMac = 96

// Frame describes one frame of a synthetic block.
type Frame struct {
	Data     []byte // the frame as the kernel stores it (tag removed)
	Wire     int    // tp_len; len(Data) when zero
	Sec      uint32
	Nsec     uint32
	PktType  uint8
	Protocol uint16 // sll_protocol, host order
	IfIndex  int32
	HAType   uint16
	Addr     []byte // sll_addr; sll_halen is its length
	VLAN     bool   // TP_STATUS_VLAN_VALID
	TPID     uint16 // tp_vlan_tpid; TP_STATUS_VLAN_TPID_VALID when non-zero
	TCI      uint16
	Mac      uint16 // tp_mac; KernelMac when zero
}

// align8 is the alignment of frames in a TPACKET_V3 block
// (TOTAL_PKT_LEN_INCL_ALIGN: V3_ALIGNMENT, 8 bytes; tp_mac itself is
// aligned to TPACKET_ALIGNMENT, 16).
func align8(n int) int { return (n + 7) &^ 7 }

// Span returns the bytes frame f takes in a block, tp_next_offset:
// tp_mac + tp_snaplen aligned to 8.
func Span(f Frame) int {
	mac := int(f.Mac)
	if mac == 0 {
		mac = KernelMac
	}
	return align8(mac + len(f.Data))
}

// PutBlock writes a block holding frames into b (one whole block) with
// sequence number seq, and hands it to user space (block_status
// TP_STATUS_USER), as the kernel does when it retires a block. It reports
// false, and leaves b in an unspecified state, when the frames do not fit.
func PutBlock(b []byte, seq uint64, frames []Frame) bool {
	clear(b)
	ne := binary.NativeEndian
	off := BlockHeaderLen
	if len(b) < off {
		return false
	}
	ne.PutUint32(b[bdNumPkts:], uint32(len(frames)))
	ne.PutUint32(b[bdFirstPkt:], uint32(off))
	ne.PutUint64(b[bdSeqNum:], seq)
	for i, f := range frames {
		mac := int(f.Mac)
		if mac == 0 {
			mac = KernelMac
		}
		total := align8(mac + len(f.Data))
		if off+total > len(b) || off+FrameHeaderLen > len(b) {
			return false
		}
		h := b[off:]
		next := total
		if i == len(frames)-1 {
			next = 0
		}
		wire := f.Wire
		if wire == 0 {
			wire = len(f.Data)
		}
		var status uint32 = StatusUser
		if f.VLAN {
			status |= statusVLANValid
			if f.TPID != 0 {
				status |= statusVLANTPIDValid
			}
		}
		ne.PutUint32(h[thNextOffset:], uint32(next))
		ne.PutUint32(h[thSec:], f.Sec)
		ne.PutUint32(h[thNsec:], f.Nsec)
		ne.PutUint32(h[thSnaplen:], uint32(len(f.Data)))
		ne.PutUint32(h[thLen:], uint32(wire))
		ne.PutUint32(h[thStatus:], status)
		ne.PutUint16(h[thMac:], uint16(mac))
		ne.PutUint32(h[thVLANTCI:], uint32(f.TCI))
		ne.PutUint16(h[thVLANTPID:], f.TPID)
		ne.PutUint16(h[sllBase:], afPacket)
		binary.BigEndian.PutUint16(h[sllProtocol:], f.Protocol)
		ne.PutUint32(h[sllIfindex:], uint32(f.IfIndex))
		ne.PutUint16(h[sllHatype:], f.HAType)
		h[sllPkttype] = f.PktType
		h[sllHalen] = byte(len(f.Addr))
		copy(h[sllAddr:sllAddr+8], f.Addr)
		copy(h[mac:], f.Data)
		if i == 0 {
			ne.PutUint32(b[bdFirstSec:], f.Sec)
			ne.PutUint32(b[bdFirstNsec:], f.Nsec)
		}
		ne.PutUint32(b[bdLastSec:], f.Sec)
		ne.PutUint32(b[bdLastNsec:], f.Nsec)
		off += total
	}
	ne.PutUint32(b[bdBlkLen:], uint32(off))
	ne.PutUint32(b[bdBlockStatus:], StatusUser)
	return true
}

// Fill returns how many of frames, from the first, fit into one block of
// size bytes.
func Fill(size int, frames []Frame) int {
	off := BlockHeaderLen
	for i, f := range frames {
		off += Span(f)
		if off > size {
			return i
		}
	}
	return len(frames)
}

// BlockStatus returns the block_status word of block b.
func BlockStatus(b []byte) uint32 { return binary.NativeEndian.Uint32(b[bdBlockStatus:]) }
