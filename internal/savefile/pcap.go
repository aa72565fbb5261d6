package savefile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The pcap magic numbers, as read in the file's own byte order.
const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
)

// openPcap reads the rest of a pcap file header whose first four bytes
// are magic.
func (rd *Reader) openPcap(magic [4]byte) error {
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		switch bo.Uint32(magic[:]) {
		case pcapMagicMicro:
			rd.bo = bo
		case pcapMagicNano:
			rd.bo, rd.nano = bo, true
		}
	}
	if rd.bo == nil {
		return fmt.Errorf("%w (magic %#x: neither pcap nor pcapng)", ErrUnknownFormat, magic)
	}
	var h [20]byte
	if err := rd.full(h[:], "pcap file header"); err != nil {
		return eofTruncated(err, "pcap file header")
	}
	major, minor := rd.bo.Uint16(h[0:]), rd.bo.Uint16(h[2:])
	if major != 2 || minor > 4 {
		return fmt.Errorf("unsupported pcap savefile version %d.%d", major, minor)
	}
	// The link-type word: 16 bits of link type, 10 reserved, 6 of FCS
	// length (libpcap's LT_LINKTYPE, LT_RESERVED1).
	lt := rd.bo.Uint32(h[16:])
	if r := lt & 0x03ff0000; r != 0 {
		return fmt.Errorf("savefile linktype reserved field not zero (%#08x)", r)
	}
	rd.ifaces = []Interface{{LinkType: lt & 0xffff, Snaplen: normSnaplen(rd.bo.Uint32(h[12:])),
		BigEndian: rd.bo == binary.BigEndian}}
	return nil
}

// nextPcap reads one pcap record.
func (rd *Reader) nextPcap() (*Packet, error) {
	var h [16]byte
	at := rd.off
	if err := rd.full(h[:], "pcap record header"); err != nil {
		return nil, err // io.EOF at a record boundary is the end
	}
	sec, frac := rd.bo.Uint32(h[0:]), rd.bo.Uint32(h[4:])
	caplen, wire := rd.bo.Uint32(h[8:]), rd.bo.Uint32(h[12:])
	if caplen > MaxSnaplen {
		return nil, fmt.Errorf("record at offset %d: invalid packet capture length %d, bigger than maximum of %d",
			at, caplen, MaxSnaplen)
	}
	// libpcap keeps the first snap-length bytes of a longer record.
	keep := min(int(caplen), rd.ifaces[0].Snaplen)
	data := rd.scratch(keep)
	if err := rd.full(data, fmt.Sprintf("record at offset %d", at)); err != nil {
		return nil, eofTruncated(err, fmt.Sprintf("record at offset %d", at))
	}
	if extra := int64(caplen) - int64(keep); extra > 0 {
		if err := rd.discard(extra, fmt.Sprintf("record at offset %d", at)); err != nil {
			return nil, err
		}
	}
	ns := int64(frac) * 1000
	if rd.nano {
		ns = int64(frac)
	}
	rd.pkt = Packet{Timestamp: int64(sec)*1e9 + ns, Data: data, Length: int(wire)}
	return &rd.pkt, nil
}

// eofTruncated turns a bare io.EOF (nothing read where something must be)
// into ErrTruncated.
func eofTruncated(err error, what string) error {
	if errors.Is(err, io.EOF) && !errors.Is(err, ErrTruncated) {
		return fmt.Errorf("%w: %s: no bytes", ErrTruncated, what)
	}
	return err
}
