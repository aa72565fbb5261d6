package afpacket

import (
	"context"
	"errors"
	"time"

	"golang.org/x/net/bpf"
)

// ErrFilterRejected reports that the kernel refused the classic BPF program
// (for example one with a backward jump, which libpcap emits for protochain).
// The caller may reopen with no kernel filter and filter in user space.
var ErrFilterRejected = errors.New("afpacket: kernel rejected the BPF filter")

// ErrStopped is what ReadPacket and Next return after Stop once they have
// delivered every frame the ring held: those of the blocks handed over
// and of the block the kernel was filling, which its retire timer hands
// over within two block timeouts.
var ErrStopped = errors.New("afpacket: capture stopped")

// ErrNoSuchInterface reports that Open was given the name of no interface
// in the calling thread's network namespace (the *net.OpError names it).
var ErrNoSuchInterface = errors.New("no such network interface")

// Config controls how Open sets up a capture handle. The zero value is usable:
// every zero field takes the default named in its comment.
type Config struct {
	// Snaplen is the most bytes of each frame kept (default 262144).
	Snaplen int
	// Promiscuous adds a PACKET_MR_PROMISC membership for the handle's
	// life. It is ignored on the "any" pseudo-interface, as libpcap does.
	Promiscuous bool
	// Filter is the program attached with SO_ATTACH_FILTER before bind(2),
	// compiled for the interface's link type (LinkTypeOf). Empty means
	// accept every frame. On cooked link types (LINUX_SLL, LINUX_SLL2)
	// the kernel runs the program on the frame without the cooked header,
	// so Open rewrites its header loads into the kernel's ancillary loads;
	// a load of a header field the kernel has no equivalent for fails with
	// ErrFilterRejected, as does a program the kernel refuses.
	Filter []bpf.RawInstruction
	// BlockSize is the size of one ring block in bytes (default 4 MiB). It
	// must be a multiple of the page size. The reader wakes once per block.
	BlockSize int
	// NumBlocks is the number of ring blocks (default 8). The ring,
	// BlockSize × NumBlocks bytes of kernel memory (see RingSize), is what
	// absorbs the reader's stalls: the defaults hold about 100 ms of
	// 1500-byte frames at 2.5 Gbit/s, or 230 ms of 64-byte frames at 1 Mpps.
	NumBlocks int
	// BlockTimeout is the retire timeout of a partly filled block
	// (default 10ms): the upper bound on how long a quiet link delays delivery.
	// It is rounded up to whole milliseconds.
	BlockTimeout time.Duration
	// Match, when set, is a user-space filter: ReadPacket skips every frame
	// for which it returns false. It exists for programs the kernel rejects
	// (see ErrFilterRejected), to run the program compiled for the link
	// type on each frame. Match sees Data as ReadPacket returns it (with the
	// cooked header on cooked link types) except that a VLAN tag the kernel
	// moved into metadata is not written back yet (it is in VLANPresent,
	// VLANTCI and VLANTPID, for the program's ancillary loads) and Data is
	// not yet cut to Snaplen. The Packet and its Data are valid only during
	// the call.
	Match func(p *Packet) bool
	// KeepOnly says the Conn is read with Keep alone, never with
	// ReadPacket or Next, which it must not be: its socket is then left
	// out of the Go netpoller. There, the kernel's hand-over of every
	// block (sk_data_ready) would wake the netpoller's thread for
	// nothing, as a keeping reader waits on a timer (see Keep): some
	// 10 µs of CPU each on a VM, which at the thousands of blocks a
	// second of a ring of small blocks is most of what it costs.
	KeepOnly bool
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
	// Data holds the frame as written to a pcap file: on cooked link types
	// it starts with the LINUX_SLL or LINUX_SLL2 header built from the
	// kernel's metadata.
	Data []byte
	// IfIndex is the index of the interface the frame was seen on.
	IfIndex int
	// PacketType is the sll_pkttype of the frame (PACKET_HOST, PACKET_OUTGOING, ...).
	PacketType uint8
	// Protocol is the sll_protocol of the frame in host byte order: the
	// EtherType after any VLAN tag the kernel removed (SKF_AD_PROTOCOL).
	Protocol uint16
	// VLANPresent reports that the kernel removed an 802.1Q/802.1ad tag from
	// the frame into metadata (SKF_AD_VLAN_TAG_PRESENT). ReadPacket writes the
	// tag back into Data after the MAC addresses, as libpcap does.
	VLANPresent bool
	// VLANTCI is the removed tag's control information (SKF_AD_VLAN_TAG).
	VLANTCI uint16
	// VLANTPID is the removed tag's protocol identifier, 0x8100 or 0x88a8
	// (SKF_AD_VLAN_TPID).
	VLANTPID uint16
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

// RingSize returns the bytes of kernel memory the ring of a handle opened
// with c takes (BlockSize × NumBlocks, defaults applied), or an error if c
// is invalid.
func (c Config) RingSize() (int, error) {
	s, err := c.settings()
	if err != nil {
		return 0, err
	}
	return s.blockSize * s.numBlocks, nil
}

// Defaults of the zero Config fields, chosen from BenchmarkCaptureRatio on
// a 2-core VM: a 32 MiB ring kept every frame where 8 MiB dropped some.
const (
	DefaultSnaplen      = 262144
	DefaultBlockSize    = 4 << 20
	DefaultNumBlocks    = 8
	DefaultBlockTimeout = 10 * time.Millisecond
)

// A Conn is a capture handle on one interface: an AF_PACKET socket with a
// TPACKET_V3 receive ring. ReadPacket must not be called from two goroutines
// at once; Stats, LinkType, Snaplen and Close may be called from any
// goroutine at any time.
type Conn struct {
	h handle
}

// Open opens a capture handle on the interface named ifname, or on every
// interface for "any" (see packet(7)): an AF_PACKET socket, raw for
// Ethernet and header-less links and cooked otherwise, cfg.Filter attached
// before the socket is bound, a TPACKET_V3 ring mapped into memory, and a
// promiscuous membership when cfg.Promiscuous is set. The socket lives in
// the calling thread's network namespace. Errors are *net.OpError values;
// errors.Is reports os.ErrPermission when CAP_NET_RAW is missing and
// ErrFilterRejected when the kernel cannot run cfg.Filter.
func Open(ifname string, cfg Config) (*Conn, error) { return open(ifname, cfg) }

// ReadPacket returns the next frame. Within a ring block it makes no system
// call and no allocation; when the block is used up it hands the block back
// to the kernel and waits in the Go netpoller for the next one. It returns
// os.ErrDeadlineExceeded when a non-zero deadline passes with no frame, an
// error wrapping ctx.Err() when ctx ends, and one wrapping net.ErrClosed after
// Close. ctx and deadline are looked at only when a block is used up, so a
// busy ring may still yield the rest of its current block after ctx ends.
// When the interface goes down or is removed, ReadPacket returns the frames
// already in the ring, then an error wrapping syscall.ENETDOWN once no block
// has come for two block timeouts, and that error again on later calls.
// The Packet's Data is valid until the next call to ReadPacket or Close.
func (c *Conn) ReadPacket(ctx context.Context, deadline time.Time) (Packet, error) {
	return c.h.readPacket(ctx, deadline)
}

// Next is ReadPacket without the copy: it returns the frame in a Packet
// the Conn owns, which it overwrites on the next call to Next or
// ReadPacket; the Packet, like its Data, is valid until then or Close.
//
// Returning a 64-byte Packet by value costs a copy at every level it is
// passed up, and each copy reads fields just written by narrower stores,
// which the CPU cannot forward to the wider loads: with Next the whole
// capture of 60-byte frames took about 14% less CPU per frame.
func (c *Conn) Next(ctx context.Context, deadline time.Time) (*Packet, error) {
	return c.h.nextPacket(ctx, deadline)
}

// Stats returns the kernel's counters over the handle's life, read with
// getsockopt(PACKET_STATISTICS). After Close it returns the totals as they
// were at Close.
func (c *Conn) Stats() (Stats, error) { return c.h.stats() }

// LinkType returns the pcap link type of the frames ReadPacket returns: the
// one LinkTypeOf reports for the interface (LINUX_SLL2 for "any").
func (c *Conn) LinkType() uint32 { return c.h.linkType }

// Snaplen returns the most bytes ReadPacket keeps of a frame.
func (c *Conn) Snaplen() int { return c.h.snaplen }

// Close closes the socket and releases the ring. It wakes a ReadPacket
// blocked in another goroutine, which then returns an error wrapping
// net.ErrClosed. Close is idempotent.
func (c *Conn) Close() error { return c.h.close() }

// CheckCapability reports whether this process may open packet sockets. It
// opens and closes one; the error says what is missing (CAP_NET_RAW, or
// AF_PACKET support in the kernel). Daemons call it once at start.
func CheckCapability() error { return checkCapability() }

// Addr is the address of a capture handle in a *net.OpError: the interface.
type Addr struct {
	// Interface is the interface's name.
	Interface string
}

// Network returns "afpacket".
func (a *Addr) Network() string { return network }

// String returns the interface name.
func (a *Addr) String() string { return a.Interface }

// network is the network named in *net.OpError values.
const network = "afpacket"
