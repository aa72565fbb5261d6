package capfile

// PcapWriter writes a classic pcap file (nanosecond timestamps,
// little-endian) into a Buffer. Packet neither allocates nor copies the
// frame more than once.
type PcapWriter struct {
	buf     *Buffer
	snaplen int
	hdr     [pcapRecordLen]byte
}

// NewPcapWriter writes the file header of a pcap file of link type
// linkType (a LINKTYPE_ number) and snap length snaplen into buf, and
// returns the writer of its records.
func NewPcapWriter(buf *Buffer, linkType uint32, snaplen int) *PcapWriter {
	w := &PcapWriter{buf: buf, snaplen: snaplen}
	var h [pcapHeaderLen]byte
	putPcapHeader(h[:], linkType, snaplen)
	buf.write(h[:])
	return w
}

// Packet appends one frame: its timestamp (ns since the epoch), its bytes
// (cut to the snap length here) and its length on the wire.
func (w *PcapWriter) Packet(ts int64, data []byte, wireLen int) {
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

// Finish appends what follows the last frame: nothing, in a pcap file.
func (w *PcapWriter) Finish(Stats) {}

// PcapngWriter writes Enhanced Packet Blocks into a Buffer: after a
// section of one interface (NewPcapngWriter), or bare, as one interface's
// share of a merged file (NewEPBWriter). Packet neither allocates nor
// copies the frame more than once.
type PcapngWriter struct {
	buf     *Buffer
	snaplen int
	ifID    uint32 // the EPBs' interface id (0 but in a merged file)
	bare    bool   // EPBs only: the merge writes the rest
	hdr     [epbHeaderLen]byte
}

// NewPcapngWriter writes the start of a pcapng section with one interface
// (ifname, of link type linkType, snap length snaplen, nanosecond
// timestamps) into buf, and returns the writer of its packets.
func NewPcapngWriter(buf *Buffer, linkType uint32, snaplen int, ifname string) *PcapngWriter {
	WriteNGHeader(buf, []Interface{{Name: ifname, LinkType: linkType, Snaplen: snaplen}})
	return &PcapngWriter{buf: buf, snaplen: snaplen}
}

// NewEPBWriter returns a PcapngWriter that writes nothing but Enhanced
// Packet Blocks for interface ifID into buf: one interface's share of a
// merged capture, whose section header, interface descriptions and
// statistics the merging caller writes (WriteNGHeader, MergeEPBs,
// WriteNGStats). Its Finish writes nothing.
func NewEPBWriter(buf *Buffer, snaplen int, ifID uint32) *PcapngWriter {
	return &PcapngWriter{buf: buf, snaplen: snaplen, ifID: ifID, bare: true}
}

// Packet appends one frame: its timestamp (ns since the epoch), its bytes
// (cut to the snap length here) and its length on the wire.
func (w *PcapngWriter) Packet(ts int64, data []byte, wireLen int) {
	n, wire := capLen(data, wireLen, w.snaplen)
	if r := w.buf.reserve(int(EPBLen(n))); r != nil {
		// The block fits in the current chunk: write it in place.
		putEPBHeader(r, w.ifID, ts, n, wire)
		copy(r[epbHeaderLen:], data[:n])
		putEPBTrailer(r[epbHeaderLen+n:], n)
		return
	}
	putEPBHeader(w.hdr[:], w.ifID, ts, n, wire)
	w.buf.write(w.hdr[:])
	w.buf.write(data[:n])
	t := w.hdr[:epbTrailerLen(n)]
	putEPBTrailer(t, n)
	w.buf.write(t)
}

// Finish appends what follows the last frame: the interface's statistics
// block (nothing for a writer of bare EPBs).
func (w *PcapngWriter) Finish(st Stats) {
	if !w.bare {
		WriteNGStats(w.buf, w.ifID, st)
	}
}

// capLen returns how many bytes of data to keep under snaplen, and the
// wire length (never below the kept length).
func capLen(data []byte, wire, snaplen int) (int, uint32) {
	n := min(len(data), snaplen)
	return n, uint32(max(wire, n))
}

// WriteNGHeader appends a pcapng section header block and one interface
// description block per interface (interface id = index) to buf, and
// returns the number of bytes written.
func WriteNGHeader(buf *Buffer, ifaces []Interface) int64 {
	b := appendNGHeader(make([]byte, 0, 128), ifaces)
	buf.write(b)
	return int64(len(b))
}

// NGHeaderLen returns the length of WriteNGHeader's output for interfaces
// of these names (their link types and snap lengths do not change it).
func NGHeaderLen(names []string) int64 {
	ifaces := make([]Interface, len(names))
	for i, n := range names {
		ifaces[i].Name = n
	}
	return int64(len(appendNGHeader(nil, ifaces)))
}

// WriteNGStats appends the interface statistics block of interface ifID
// to buf.
func WriteNGStats(buf *Buffer, ifID uint32, st Stats) {
	buf.write(appendISB(make([]byte, 0, 128), ifID, st))
}
