package capfile

import "encoding/binary"

// This file is the classic pcap format (the tcpdump/libpcap savefile),
// little-endian with nanosecond timestamps: a 24-byte file header, then
// per frame a 16-byte record header and the frame's bytes. The functions
// fill headers in any []byte and know nothing of Buffers.

var le = binary.LittleEndian

// Lengths of the pcap headers.
const (
	pcapHeaderLen = 24 // the file header
	pcapRecordLen = 16 // a record header
)

// pcapMagicNano is the magic number of a pcap file whose timestamps count
// nanoseconds (0xa1b2c3d4 counts microseconds).
const pcapMagicNano = 0xa1b23c4d

// MaxPcapRecordLen returns the most pcap file bytes one frame of snaplen
// bytes takes: its record header and the frame.
func MaxPcapRecordLen(snaplen int) int64 { return int64(pcapRecordLen + snaplen) }

// MaxFileOverhead bounds the bytes of a file that are no frame's record:
// the pcap file header, or pcapng's section header, interface description
// and statistics blocks of one interface (generously).
const MaxFileOverhead = 512

// putPcapHeader fills the file header of a pcap file of link type
// linkType and snap length snaplen.
func putPcapHeader(h []byte, linkType uint32, snaplen int) {
	_ = h[pcapHeaderLen-1]
	le.PutUint32(h[0:], pcapMagicNano)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	clear(h[8:16]) // thiszone and sigfigs stay 0
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], linkType)
}

// putPcapRecord fills the record header of a frame of n captured bytes,
// wire bytes on the wire, at ts (ns since the epoch).
func putPcapRecord(h []byte, ts int64, n int, wire uint32) {
	_ = h[pcapRecordLen-1]
	le.PutUint32(h[0:], uint32(ts/1e9))
	le.PutUint32(h[4:], uint32(ts%1e9))
	le.PutUint32(h[8:], uint32(n))
	le.PutUint32(h[12:], wire)
}
