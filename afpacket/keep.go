package afpacket

import (
	"context"
	"time"
)

// This file is the keeping reader: instead of walking the ring frame by
// frame and handing each block back at once (ReadPacket), a reader keeps
// whole blocks for as long as it likes, as the buffer of a capture, and
// hands them back oldest first (the kernel fills the ring in order, and
// stops at the first block still kept). The frames never leave the ring:
// Compact turns a kept block, in place, into file records.

// A Block is a block of the receive ring that a keeping reader holds (see
// Conn.Keep): the kernel has filled it and handed it over, and fills it
// again only once Release returns it. Its fields are the block
// descriptor's (struct tpacket_hdr_v1), read once when Keep took it; none
// of them needs a look at the frames.
type Block struct {
	// Seq is the kernel's sequence number of the block (seq_num).
	Seq uint64
	// Packets is the number of frames in the block (num_pkts). Compact
	// keeps every one of them (limits aside) unless the Conn's
	// SkipsFrames reports true.
	Packets int
	// Len is the bytes of the block in use, its 48-byte descriptor
	// included (blk_len): every record Compact writes fits in Len-48
	// bytes.
	Len int
	// First and Last are the kernel's timestamps of the first and the
	// last frame, ns since the epoch (ts_first_pkt, ts_last_pkt). They
	// say nothing when Packets is 0.
	First, Last int64
	// Losing reports that the kernel dropped frames after the last read
	// of its counters (Stats) and before it began this block
	// (TP_STATUS_LOSING): it drops only while the block after a full one
	// is still kept, and marks every block it fills after that until the
	// counters are read. So frames dropped since the last read of the
	// counters all came after the frames of a block without it.
	Losing bool

	index int // the block's place in the ring
}

// A RecordFormat says how Compact writes each frame it keeps: a record of
// Head bytes, the frame (as ReadPacket returns it, cut to Snaplen), zeros
// up to a multiple of Align bytes, and Tail bytes. Put fills the head and
// the tail of rec, one whole record, for a frame of n bytes kept of wire
// bytes on the wire, stamped ts (ns since the epoch); the frame is in
// place when Put is called. The record of a frame is never longer than
// the frame's place in the ring when Head+Align-1+Tail is at most
// MaxRecordOverhead.
type RecordFormat struct {
	Head, Align, Tail int
	// Snaplen is the most bytes of a frame kept (at most the Conn's
	// Snaplen, which also applies); 0 means the Conn's.
	Snaplen int
	Put     func(rec []byte, ts int64, n, wire int)
}

// MaxRecordOverhead is the most bytes a RecordFormat may add to a frame
// (Head, padding and Tail): the room the ring leaves before every frame,
// less the largest cooked header and VLAN tag that go back in front of it.
const MaxRecordOverhead = 40

// Limits stop a Compact or a Measure: after the frame that reaches Frames
// or Bytes (that frame is kept, the frames after it are not), or before
// the first frame stamped at or after End. A zero field is no limit.
type Limits struct {
	// Frames stops after this many frames.
	Frames int64
	// Bytes stops once the records take this many bytes.
	Bytes int64
	// End stops before the first frame stamped at or after End (ns since
	// the epoch): a capture's duration ends there, and that frame came
	// after it.
	End int64
	// Start leaves out every frame stamped before Start (ns since the
	// epoch): it is neither written nor counted. A capture whose earlier
	// frames come from elsewhere (a look-back ring) starts its own at
	// the seam this way.
	Start int64
}

// Limit names the limit that stopped a Compact or a Measure.
type Limit uint8

// The limits of a Count.
const (
	LimitNone   Limit = iota // the block's frames ran out first
	LimitFrames              // Limits.Frames
	LimitBytes               // Limits.Bytes
	LimitEnd                 // Limits.End
)

// Count is what a Compact or a Measure kept of a block.
type Count struct {
	Frames  int64 // records written (or that would be)
	Bytes   int64 // their bytes
	Last    int64 // timestamp of the last frame kept, ns since the epoch
	Reached Limit // the limit that stopped it, if one did
}

// Keep appends to dst every block the kernel has handed over since the
// last call, oldest first, and keeps them: the kernel does not touch a
// kept block until Release gives it back. It never waits. A Conn is read
// either with Keep or with ReadPacket and Next, never both; Config.Match
// does not apply to kept blocks.
//
// A reader that keeps blocks cannot wait for the next one in poll(2): the
// kernel reports the socket readable whenever the most recently handed
// over block is still the user's, which a kept block always is. It calls
// Keep on a timer instead, about once per block timeout or less often:
// each call costs one getsockopt (for the interface's loss), not one per
// block.
//
// When the ring is full (Kept equals Blocks) the kernel drops frames until
// the oldest block is released. Keep returns an error wrapping
// net.ErrClosed after Close, and one wrapping syscall.ENETDOWN once the
// interface went down or was removed and the ring holds no more blocks to
// hand over (after that error, as from ReadPacket). dst has room for
// Blocks blocks when Keep must not allocate.
func (c *Conn) Keep(dst []Block) ([]Block, error) { return c.h.keep(dst) }

// Release hands the n oldest kept blocks back to the kernel, which may
// overwrite them at once; what Compact wrote into them goes with them.
// n is at most Kept.
func (c *Conn) Release(n int) { c.h.releaseKept(n) }

// Kept returns the number of blocks kept.
func (c *Conn) Kept() int { return c.h.keptBlocks() }

// Blocks returns the number of blocks in the ring.
func (c *Conn) Blocks() int { return c.h.ringBlocks() }

// BlockSize returns the size of one ring block in bytes.
func (c *Conn) BlockSize() int { return c.h.ringBlockSize() }

// Filling returns the number of frames in the block the kernel is filling,
// which it has not handed over yet (0 when the ring is full).
func (c *Conn) Filling() int { return c.h.fillingKept() }

// SkipsFrames reports whether blocks may hold frames that Compact, Measure
// and ReadPacket leave out: the outgoing copies of loopback's frames, when
// the kernel could not be told to drop them (no PACKET_IGNORE_OUTGOING,
// or on "any" a filter program too long to extend). Block.Packets then
// only bounds what a block holds.
func (c *Conn) SkipsFrames() bool { return c.h.skipsFrames() }

// Measure walks the frame headers of kept block b, not its data, and
// returns what Compact with the same arguments would keep and write. It
// does not change the block.
func (c *Conn) Measure(b Block, f RecordFormat, lim Limits) Count { return c.h.measure(b, f, lim) }

// Compact rewrites kept block b, in place, into records of format f: the
// frames as ReadPacket returns them (cooked header built, VLAN tag put
// back, cut to the snap length), each after its record head, in ring
// order, up to lim. It returns the records, which lie within the block
// after its descriptor, and what they hold; the capacity of the records'
// slice reaches the end of the block, whose room after the records is the
// caller's to use until Release. Compact moves every frame
// towards the start of the block, never past the ring header of the frame
// before it, so no frame is overwritten before it is read. A corrupt
// frame header ends the block there, as in ReadPacket: nothing is read or
// written outside the block.
//
// A block is compacted once; it is no ring block afterwards (Measure,
// Walk and Compact must not see it again) and stays the caller's until
// Release. f.Head+f.Align-1+f.Tail must not exceed MaxRecordOverhead.
// Compacts (and Measures) of different blocks may run in several
// goroutines at once: they share nothing but the Conn's settings.
func (c *Conn) Compact(b Block, f RecordFormat, lim Limits) ([]byte, Count) {
	return c.h.compact(b, f, lim)
}

// Walk calls fn with every frame of kept block b in ring order, as
// ReadPacket would return it, until fn returns false. The Packet and its
// Data are valid only during the call. Walk writes cooked headers and VLAN
// tags in front of the frames, in the block's room for them, as ReadPacket
// does; the block may be walked again, or compacted, afterwards.
func (c *Conn) Walk(b Block, fn func(*Packet) bool) { c.h.walk(b, fn) }

// Free closes the Conn if it is open and gives the ring's memory back at
// once (rather than when the Conn becomes garbage): kept blocks, and the
// records Compact wrote into them, must not be read afterwards. Free is
// idempotent.
func (c *Conn) Free() error { return c.h.free() }

// MemConfig describes a receive ring in ordinary memory (NewMemConn).
type MemConfig struct {
	// BlockSize and NumBlocks are the ring's geometry, as in Config.
	BlockSize, NumBlocks int
	// Snaplen is the Conn's snap length (default DefaultSnaplen).
	Snaplen int
	// LinkType is the link type of the frames: EN10MB and RAW frames are
	// the ring's as they are, LINUX_SLL and LINUX_SLL2 ones get the cooked
	// header built from the sockaddr_ll.
	LinkType uint32
	// LoopbackIndex, when not zero, is the index of a loopback interface
	// whose outgoing frames the Conn skips (SkipsFrames reports true).
	LoopbackIndex int
}

// NewMemConn returns a Conn over a receive ring in mem, ordinary memory of
// BlockSize × NumBlocks bytes laid out as the kernel lays out a TPACKET_V3
// ring, which nothing fills but the caller: it plays the kernel, writing
// blocks in ring order and handing each over by setting its block_status
// (package afpackettest does both). The Conn has no socket: Stats reports
// zeros, Keep never reports the interface's loss, and ReadPacket must not
// wait (it is for Keep). It exists to test code that reads Conns, with
// blocks and frames of the test's choosing.
func NewMemConn(mem []byte, cfg MemConfig) (*Conn, error) { return newMemConn(mem, cfg) }

// Wait waits d, or until ctx ends or the Conn is closed, for a reader
// that keeps blocks and so cannot wait in poll(2) for the next one (see
// Keep). It returns nil after d, an error wrapping ctx.Err() when ctx
// ends and one wrapping net.ErrClosed after Close.
//
// It waits on a timerfd in the Go netpoller rather than a Go timer: each
// expiry of a Go timer keeps the runtime's monitor thread polling for a
// millisecond afterwards, some 0.2 ms of CPU per wake-up on a VM, which is
// most of what a capture of small frames that wakes ten times a second
// would cost; a goroutine parked in the netpoller costs nothing until it
// is woken.
func (c *Conn) Wait(ctx context.Context, d time.Duration) error { return c.h.waitKeep(ctx, d) }

// Stop has the socket queue no more frames, at once: it attaches a filter
// that refuses every frame (SO_ATTACH_FILTER). Unlike Close it does not
// wait for an RCU grace period (close(2) of a packet socket does, some
// 10 to 80 ms on a busy host), so a capture that has reached its end can
// write its file first and close later (Free). Kept blocks and the
// counters (Stats) stay as they are. A reader (ReadPacket, Next) goes on
// returning the frames already in the ring, then ErrStopped.
func (c *Conn) Stop() error { return c.h.stop() }
