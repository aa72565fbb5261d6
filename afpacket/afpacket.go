package afpacket

import (
	"errors"
	"time"

	"golang.org/x/net/bpf"
)

// ErrFilterRejected reports that the kernel refused the classic BPF program
// (for example one with a backward jump, which libpcap emits for protochain).
// The caller may reopen with no kernel filter and filter in user space.
var ErrFilterRejected = errors.New("afpacket: kernel rejected the BPF filter")

// Config controls how Open sets up a capture handle. The zero value is usable:
// every zero field takes the default named in its comment.
type Config struct {
	// Snaplen is the most bytes of each frame kept (default 262144).
	Snaplen int
	// Promiscuous adds a PACKET_MR_PROMISC membership for the handle's life.
	Promiscuous bool
	// Filter is the program attached with SO_ATTACH_FILTER before bind(2).
	// Empty means accept every frame.
	Filter []bpf.RawInstruction
	// BlockSize is the size of one ring block in bytes (default 1 MiB).
	BlockSize int
	// NumBlocks is the number of ring blocks (default 8).
	NumBlocks int
	// BlockTimeout is the retire timeout of a partly filled block
	// (default 10ms): the upper bound on how long a quiet link delays delivery.
	BlockTimeout time.Duration
}

// Packet is one captured frame. Data aliases memory owned by the handle and is
// valid only until the next call to ReadPacket or Close.
type Packet struct {
	// Timestamp is the kernel's receive time, nanoseconds since the Unix epoch.
	Timestamp int64
	// CaptureLength is len(Data): the bytes kept after snaplen truncation,
	// including a VLAN tag re-inserted from ring metadata.
	CaptureLength int
	// Length is the frame's length on the wire (including a re-inserted tag).
	Length int
	// Data holds the frame as written to a pcap file.
	Data []byte
	// IfIndex is the index of the interface the frame was seen on.
	IfIndex int
	// PacketType is the sll_pkttype of the frame (PACKET_HOST, PACKET_OUTGOING, ...).
	PacketType uint8
}

// Stats are the kernel's counters from PACKET_STATISTICS, accumulated over the
// handle's life (the kernel resets them on every read; the handle adds them up).
type Stats struct {
	// Packets is the number of frames that passed the filter (tp_packets).
	Packets uint64
	// Drops is the number of frames the kernel dropped for lack of ring space.
	Drops uint64
	// QueueFreezes counts TPACKET_V3 queue freezes.
	QueueFreezes uint64
}
