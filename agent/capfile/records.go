package capfile

// This file gives the formats' records to code that writes them itself,
// without a Buffer: the record of a frame is a head, the frame, padding
// and a tail, and the file around them a header and, in pcapng, a
// statistics block. A holder of frames that lays them out this way makes
// byte for byte the file PcapWriter or PcapngWriter makes of the same
// frames.

// RecordFormat is how a file format frames one frame: a record of Head
// bytes, the frame, zeros up to a multiple of Align bytes, and Tail
// bytes. Put fills the head and the tail (padding included) of rec, one
// whole record with the frame already in place, for a frame of n bytes
// kept of wire bytes on the wire, stamped ts (ns since the epoch).
type RecordFormat struct {
	Head, Align, Tail int
	Put               func(rec []byte, ts int64, n, wire int)
}

// Len returns the length of the record of a frame of n bytes.
func (f RecordFormat) Len(n int) int {
	return f.Head + (n+f.Align-1)/f.Align*f.Align + f.Tail
}

// PcapRecords returns the record format of a pcap file: PcapWriter's.
func PcapRecords() RecordFormat {
	return RecordFormat{Head: pcapRecordLen, Align: 1, Put: func(rec []byte, ts int64, n, wire int) {
		putPcapRecord(rec, ts, n, uint32(wire))
	}}
}

// EPBRecords returns the record format of the Enhanced Packet Blocks of
// interface ifID: PcapngWriter's.
func EPBRecords(ifID uint32) RecordFormat {
	return RecordFormat{Head: epbHeaderLen, Align: 4, Tail: 4, Put: func(rec []byte, ts int64, n, wire int) {
		putEPBHeader(rec, ifID, ts, n, uint32(wire))
		putEPBTrailer(rec[epbHeaderLen+n:], n)
	}}
}

// PcapHeader returns the file header NewPcapWriter writes.
func PcapHeader(linkType uint32, snaplen int) []byte {
	h := make([]byte, pcapHeaderLen)
	putPcapHeader(h, linkType, snaplen)
	return h
}

// NGHeader returns what WriteNGHeader writes: a section header block and
// one interface description block per interface.
func NGHeader(ifaces []Interface) []byte { return appendNGHeader(nil, ifaces) }

// NGSection returns a section header block alone, for a writer that
// describes its interfaces one at a time (NGInterface) as they appear.
func NGSection() []byte { return appendSHB(nil) }

// NGInterface returns the interface description block NGHeader writes for
// ifc.
func NGInterface(ifc Interface) []byte { return appendIDB(nil, ifc) }

// NGStats returns what WriteNGStats writes: the interface statistics block
// of interface ifID.
func NGStats(ifID uint32, st Stats) []byte { return appendISB(nil, ifID, st) }
