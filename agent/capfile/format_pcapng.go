package capfile

import "time"

// This file is the pcapng format (draft-ietf-opsawg-pcapng) as this
// package writes it, little-endian: a Section Header Block, one Interface
// Description Block per interface (nanosecond timestamps, if_tsresol 9),
// Enhanced Packet Blocks, and an Interface Statistics Block per interface
// at the end. The functions fill or append blocks in any []byte and know
// nothing of Buffers.

// pcapng block types and option codes.
const (
	ngSHB = 0x0A0D0D0A
	ngIDB = 0x00000001
	ngISB = 0x00000005
	ngEPB = 0x00000006

	ngOptEnd       = 0
	ngOptUserAppl  = 4 // shb_userappl
	ngOptIfName    = 2 // if_name
	ngOptIfTsresol = 9 // if_tsresol
	ngOptStartTime = 2 // isb_starttime
	ngOptEndTime   = 3 // isb_endtime
	ngOptFilterAcc = 6 // isb_filteraccept
	ngOptOSDrop    = 7 // isb_osdrop
	ngOptUsrDeliv  = 8 // isb_usrdeliv
)

// Layout of an Enhanced Packet Block: a header of epbHeaderLen bytes (type,
// length, interface id, timestamp high and low, captured and wire length),
// the frame, padding to 4 bytes, and the length again.
const (
	epbHeaderLen = 28
	epbOverhead  = epbHeaderLen + 4 // without the frame and its padding
)

// EPBLen returns the length of the Enhanced Packet Block holding n bytes
// of a frame.
func EPBLen(n int) int64 { return int64(epbOverhead + (n+3)&^3) }

// MaxEPBLen returns the most pcapng file bytes one frame of snaplen bytes
// takes: its Enhanced Packet Block with the most padding.
func MaxEPBLen(snaplen int) int64 { return int64(epbOverhead + 3 + snaplen) }

// putEPBHeader fills the epbHeaderLen bytes of an Enhanced Packet Block of
// interface ifID before its frame: n bytes captured of wire, at ts (ns
// since the epoch).
func putEPBHeader(h []byte, ifID uint32, ts int64, n int, wire uint32) {
	_ = h[epbHeaderLen-1]
	le.PutUint32(h[0:], ngEPB)
	le.PutUint32(h[4:], uint32(EPBLen(n)))
	le.PutUint32(h[8:], ifID)
	le.PutUint32(h[12:], uint32(uint64(ts)>>32))
	le.PutUint32(h[16:], uint32(uint64(ts)))
	le.PutUint32(h[20:], uint32(n))
	le.PutUint32(h[24:], wire)
}

// epbTrailerLen is the length of what follows n bytes of a frame in its
// Enhanced Packet Block: the padding and the block's length.
func epbTrailerLen(n int) int { return (-n)&3 + 4 }

// putEPBTrailer fills the epbTrailerLen(n) bytes after n bytes of a frame.
// The padding is cleared: t may hold old bytes (a recycled chunk).
func putEPBTrailer(t []byte, n int) {
	pad := (-n) & 3
	clear(t[:pad])
	le.PutUint32(t[pad:], uint32(EPBLen(n)))
}

// epbHead is what the first epbHeadLen bytes of an Enhanced Packet Block
// say.
type epbHead struct {
	typ, len uint32
	ts       int64 // ns since the epoch
}

// epbHeadLen is how many bytes readEPBHead reads.
const epbHeadLen = 20

// readEPBHead reads the type, length and timestamp of the block starting
// at h (checked by the caller: any block has a type and a length).
func readEPBHead(h []byte) epbHead {
	_ = h[epbHeadLen-1]
	return epbHead{
		typ: le.Uint32(h[0:]), len: le.Uint32(h[4:]),
		ts: int64(uint64(le.Uint32(h[12:]))<<32 | uint64(le.Uint32(h[16:]))),
	}
}

// epbFrame returns the frame of the whole Enhanced Packet Block b (its
// captured bytes, within the block) and its length on the wire.
func epbFrame(b []byte) ([]byte, int) {
	capLen := min(int(le.Uint32(b[20:])), len(b)-epbOverhead)
	return b[epbHeaderLen : epbHeaderLen+capLen], int(le.Uint32(b[24:]))
}

// ngBlock appends pcapng blocks to b (only for the few non-packet blocks).
type ngBlock struct {
	b     []byte
	start int // offset of the block being built
}

func (k *ngBlock) u16(v uint16) { k.b = le.AppendUint16(k.b, v) }
func (k *ngBlock) u32(v uint32) { k.b = le.AppendUint32(k.b, v) }
func (k *ngBlock) ts(t int64) {
	k.u32(uint32(uint64(t) >> 32))
	k.u32(uint32(uint64(t)))
}
func (k *ngBlock) opt(code uint16, v []byte) {
	k.u16(code)
	k.u16(uint16(len(v)))
	k.b = append(k.b, v...)
	for len(k.b)%4 != 0 {
		k.b = append(k.b, 0)
	}
}

// begin starts a block of type t; end fills in both length fields.
func (k *ngBlock) begin(t uint32) { k.start = len(k.b); k.u32(t); k.u32(0) }
func (k *ngBlock) end() {
	k.u32(0)
	n := uint32(len(k.b) - k.start)
	le.PutUint32(k.b[k.start+4:], n)
	le.PutUint32(k.b[len(k.b)-4:], n)
}

// Interface is one interface of a pcapng section: what its Interface
// Description Block says.
type Interface struct {
	Name     string
	LinkType uint32
	Snaplen  int
}

// appendNGHeader appends a section header block and one interface
// description block per interface (interface id = index) to b.
func appendNGHeader(b []byte, ifaces []Interface) []byte {
	b = appendSHB(b)
	for _, ifc := range ifaces {
		b = appendIDB(b, ifc)
	}
	return b
}

// appendSHB appends a section header block of unknown length.
func appendSHB(b []byte) []byte {
	k := &ngBlock{b: b}
	k.begin(ngSHB)
	k.u32(0x1A2B3C4D) // byte-order magic
	k.u16(1)
	k.u16(0)
	k.u32(0xffffffff) // section length unknown (-1)
	k.u32(0xffffffff)
	k.opt(ngOptUserAppl, []byte("pcapdaemon"))
	k.opt(ngOptEnd, nil)
	k.end()
	return k.b
}

// appendIDB appends the interface description block of ifc: nanosecond
// timestamps, its name (cut to an option's 16-bit length).
func appendIDB(b []byte, ifc Interface) []byte {
	k := &ngBlock{b: b}
	k.begin(ngIDB)
	k.u16(uint16(ifc.LinkType))
	k.u16(0)
	k.u32(uint32(ifc.Snaplen))
	name := ifc.Name[:min(len(ifc.Name), 1<<16-4)]
	k.opt(ngOptIfName, []byte(name))
	k.opt(ngOptIfTsresol, []byte{9})
	k.opt(ngOptEnd, nil)
	k.end()
	return k.b
}

// Stats is what a pcapng file records about an interface after its
// frames, in its Interface Statistics Block.
type Stats struct {
	Start, End time.Time // the capture's start and end
	Received   uint64    // frames the kernel passed to the socket, drops included (isb_filteraccept)
	Drops      uint64    // frames the kernel dropped (isb_osdrop)
	Delivered  uint64    // frames written to the file (isb_usrdeliv)
	// KernelKnown says Received and Drops are valid; else the block
	// leaves them out.
	KernelKnown bool
}

// appendISB appends the interface statistics block of interface ifID.
func appendISB(b []byte, ifID uint32, st Stats) []byte {
	k := &ngBlock{b: b}
	var v [8]byte
	u64 := func(x uint64) []byte { le.PutUint64(v[:], x); return v[:] }
	ts := func(t time.Time) []byte {
		n := uint64(t.UnixNano())
		le.PutUint32(v[0:], uint32(n>>32))
		le.PutUint32(v[4:], uint32(n))
		return v[:]
	}
	k.begin(ngISB)
	k.u32(ifID)
	k.ts(st.End.UnixNano())
	k.opt(ngOptStartTime, ts(st.Start))
	k.opt(ngOptEndTime, ts(st.End))
	if st.KernelKnown {
		k.opt(ngOptFilterAcc, u64(st.Received))
		k.opt(ngOptOSDrop, u64(st.Drops))
	}
	k.opt(ngOptUsrDeliv, u64(st.Delivered))
	k.opt(ngOptEnd, nil)
	k.end()
	return k.b
}
