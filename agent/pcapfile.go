package agent

import (
	"encoding/binary"
	"time"
)

// fileWriter writes one capture file (pcap or pcapng) into a buffer. The
// per-packet method neither allocates nor copies the frame more than once.
type fileWriter interface {
	// packet appends one frame: its timestamp (ns since the epoch), its
	// bytes (truncated to the snap length here) and its length on the wire.
	packet(ts int64, data []byte, wire int)
	// finish appends what follows the last packet (pcapng statistics).
	finish(st finishStats)
}

// finishStats is what a pcapng file records after its packets.
type finishStats struct {
	start, end time.Time
	received   uint64 // frames the kernel passed to the socket (incl. drops)
	drops      uint64 // frames the kernel dropped
	delivered  uint64 // frames written to the file
	statsKnown bool   // received and drops are valid
}

// Sizes used to bound a capture's buffer at admission.
const (
	pcapHeaderLen   = 24
	pcapRecordLen   = 16
	pcapngRecordLen = 32 + 3 // EPB without data, plus the most padding
	fileOverheadMax = 512    // pcapng SHB+IDB+ISB, generously
)

// maxRecordLen is the most file bytes one frame of snaplen bytes takes.
func maxRecordLen(format string, snaplen int) int64 {
	if format == FormatPcapNG {
		return int64(pcapngRecordLen + snaplen)
	}
	return int64(pcapRecordLen + snaplen)
}

var le = binary.LittleEndian

// capLen returns how many bytes of data to keep under snaplen, and the
// wire length (never below the kept length).
func capLen(data []byte, wire, snaplen int) (int, uint32) {
	n := min(len(data), snaplen)
	return n, uint32(max(wire, n))
}

// pcapWriter writes the classic pcap format with nanosecond timestamps
// (magic 0xa1b23c4d), little-endian.
type pcapWriter struct {
	buf     *buffer
	snaplen int
	hdr     [pcapRecordLen]byte
}

func newPcapWriter(buf *buffer, linkType uint32, snaplen int) *pcapWriter {
	w := &pcapWriter{buf: buf, snaplen: snaplen}
	var h [pcapHeaderLen]byte
	le.PutUint32(h[0:], 0xa1b23c4d)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	// thiszone and sigfigs stay 0
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], linkType)
	buf.write(h[:])
	return w
}

func (w *pcapWriter) packet(ts int64, data []byte, wireLen int) {
	n, wire := capLen(data, wireLen, w.snaplen)
	if r := w.buf.reserve(pcapRecordLen + n); r != nil {
		// The frame fits in the current chunk: header and frame in place.
		putPcapRecord(r, ts, n, wire)
		copy(r[pcapRecordLen:], data[:n])
		return
	}
	putPcapRecord(w.hdr[:], ts, n, wire)
	w.buf.write(w.hdr[:])
	w.buf.write(data[:n])
}

// putPcapRecord fills a pcap record header (nanosecond timestamps).
func putPcapRecord(h []byte, ts int64, n int, wire uint32) {
	_ = h[pcapRecordLen-1]
	le.PutUint32(h[0:], uint32(ts/1e9))
	le.PutUint32(h[4:], uint32(ts%1e9))
	le.PutUint32(h[8:], uint32(n))
	le.PutUint32(h[12:], wire)
}

func (w *pcapWriter) finish(finishStats) {}

// pcapng block types and option codes (draft-ietf-opsawg-pcapng).
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

// pcapngWriter writes a pcapng section with one interface, nanosecond
// timestamps (if_tsresol 9), Enhanced Packet Blocks and a closing Interface
// Statistics Block carrying the kernel's counters.
type pcapngWriter struct {
	buf     *buffer
	snaplen int
	ifID    uint32 // the EPBs' interface id (0 but in a merged file)
	hdr     [28]byte
}

// ngBlock builds a block in memory (only for the few non-packet blocks).
type ngBlock struct{ b []byte }

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

// start begins a block of type t; end fills in both length fields.
func (k *ngBlock) start(t uint32) { k.b = k.b[:0]; k.u32(t); k.u32(0) }
func (k *ngBlock) end() []byte {
	k.u32(0)
	n := uint32(len(k.b))
	le.PutUint32(k.b[4:], n)
	le.PutUint32(k.b[len(k.b)-4:], n)
	return k.b
}

func newPcapngWriter(buf *buffer, linkType uint32, snaplen int, ifname string) *pcapngWriter {
	writeNGHeader(buf, []ngInterface{{name: ifname, linkType: linkType, snaplen: snaplen}})
	return &pcapngWriter{buf: buf, snaplen: snaplen}
}

// ngInterface is one interface block of a pcapng section.
type ngInterface struct {
	name     string
	linkType uint32
	snaplen  int
}

// writeNGHeader appends the section header block and one interface
// description block per interface (interface id = index) to buf (nil: only
// count them). It returns the number of bytes written.
func writeNGHeader(buf *buffer, ifaces []ngInterface) int64 {
	k := &ngBlock{b: make([]byte, 0, 128)}
	var n int64
	k.start(ngSHB)
	k.u32(0x1A2B3C4D) // byte-order magic
	k.u16(1)
	k.u16(0)
	k.u32(0xffffffff) // section length unknown (-1)
	k.u32(0xffffffff)
	k.opt(ngOptUserAppl, []byte("pcapdaemon"))
	k.opt(ngOptEnd, nil)
	n += write(buf, k.end())
	for _, ifc := range ifaces {
		k.start(ngIDB)
		k.u16(uint16(ifc.linkType))
		k.u16(0)
		k.u32(uint32(ifc.snaplen))
		k.opt(ngOptIfName, []byte(ifc.name))
		k.opt(ngOptIfTsresol, []byte{9})
		k.opt(ngOptEnd, nil)
		n += write(buf, k.end())
	}
	return n
}

// write appends p to buf (nil: nowhere) and returns its length.
func write(buf *buffer, p []byte) int64 {
	if buf != nil {
		buf.write(p)
	}
	return int64(len(p))
}

// newPcapngEPBWriter returns a pcapngWriter that writes nothing but
// Enhanced Packet Blocks for interface ifID: one interface's share of a
// merged capture, whose section header, interface descriptions and
// statistics merge.go writes (its finish must not be called).
func newPcapngEPBWriter(buf *buffer, snaplen int, ifID uint32) *pcapngWriter {
	return &pcapngWriter{buf: buf, snaplen: snaplen, ifID: ifID}
}

// epbLen is the length of the EPB holding n bytes of a frame.
func epbLen(n int) int64 { return int64(32 + (n+3)&^3) }

func (w *pcapngWriter) packet(ts int64, data []byte, wireLen int) {
	n, wire := capLen(data, wireLen, w.snaplen)
	total := uint32(epbLen(n))
	pad := int(total) - 32 - n
	if r := w.buf.reserve(int(total)); r != nil {
		// The block fits in the current chunk: write it in place. A
		// recycled chunk holds old bytes, so the padding is cleared.
		w.putHeader(r, total, ts, n, wire)
		copy(r[28:], data[:n])
		clear(r[28+n : 28+n+pad])
		le.PutUint32(r[28+n+pad:], total)
		return
	}
	h := w.hdr[:]
	w.putHeader(h, total, ts, n, wire)
	w.buf.write(h)
	w.buf.write(data[:n])
	w.buf.zero(pad)
	le.PutUint32(h[0:], total)
	w.buf.write(h[:4])
}

// putHeader fills the 28 bytes of an EPB before the frame.
func (w *pcapngWriter) putHeader(h []byte, total uint32, ts int64, n int, wire uint32) {
	_ = h[27]
	le.PutUint32(h[0:], ngEPB)
	le.PutUint32(h[4:], total)
	le.PutUint32(h[8:], w.ifID)
	le.PutUint32(h[12:], uint32(uint64(ts)>>32))
	le.PutUint32(h[16:], uint32(uint64(ts)))
	le.PutUint32(h[20:], uint32(n))
	le.PutUint32(h[24:], wire)
}

func (w *pcapngWriter) finish(st finishStats) {
	writeNGStats(w.buf, w.ifID, st)
}

// writeNGStats appends the interface statistics block of interface ifID.
func writeNGStats(buf *buffer, ifID uint32, st finishStats) {
	k := &ngBlock{b: make([]byte, 0, 128)}
	var v [8]byte
	u64 := func(x uint64) []byte { le.PutUint64(v[:], x); return v[:] }
	ts := func(t time.Time) []byte {
		n := uint64(t.UnixNano())
		le.PutUint32(v[0:], uint32(n>>32))
		le.PutUint32(v[4:], uint32(n))
		return v[:]
	}
	k.start(ngISB)
	k.u32(ifID)
	k.ts(st.end.UnixNano())
	k.opt(ngOptStartTime, ts(st.start))
	k.opt(ngOptEndTime, ts(st.end))
	if st.statsKnown {
		k.opt(ngOptFilterAcc, u64(st.received))
		k.opt(ngOptOSDrop, u64(st.drops))
	}
	k.opt(ngOptUsrDeliv, u64(st.delivered))
	k.opt(ngOptEnd, nil)
	buf.write(k.end())
}
