package savefile

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Writer writes a pcap or pcapng file one record at a time, in the byte
// order of the machine tcpdump would write it on (little-endian) and with
// nanosecond timestamps. It does not buffer: wrap w in a bufio.Writer and
// flush when the reader should see the records.
type Writer struct {
	w      io.Writer
	ng     bool
	snap   []int // per interface: its snap length
	hdr    [28]byte
	tail   [8]byte // up to 3 zero bytes of padding, then the block length
	nIface int
}

// NewPcapWriter writes the header of a nanosecond pcap file of one link
// type and returns the writer of its records (interface 0).
func NewPcapWriter(w io.Writer, linkType uint32, snaplen int) (*Writer, error) {
	wr := &Writer{w: w, snap: []int{snaplen}}
	h := wr.hdr[:24]
	le.PutUint32(h[0:], pcapMagicNano)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	clear(h[8:16])
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], linkType)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("writing the pcap file header: %w", err)
	}
	return wr, nil
}

// NewPcapngWriter writes a pcapng section header; AddInterface then
// describes each interface before its first packet.
func NewPcapngWriter(w io.Writer) (*Writer, error) {
	wr := &Writer{w: w, ng: true}
	h := wr.hdr[:28]
	le.PutUint32(h[0:], ngSHB)
	le.PutUint32(h[4:], 28)
	le.PutUint32(h[8:], ngBOMagic)
	le.PutUint16(h[12:], 1)
	le.PutUint16(h[14:], 0)
	le.PutUint64(h[16:], ^uint64(0)) // section length unknown
	le.PutUint32(h[24:], 28)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("writing the pcapng section header: %w", err)
	}
	return wr, nil
}

var le = binary.LittleEndian

// AddInterface writes an interface description block (nanosecond
// timestamps, ifc.Name as if_name when set) and returns its id.
func (wr *Writer) AddInterface(ifc Interface) (int, error) {
	if !wr.ng {
		return 0, fmt.Errorf("a pcap file has one interface")
	}
	name := []byte(ifc.Name)
	name = name[:min(len(name), 1<<16-4)] // an option's length is 16 bits
	optLen := 8 + 4                       // if_tsresol (padded) and opt_endofopt
	if len(name) > 0 {
		optLen += 4 + (len(name)+3)&^3
	}
	n := 20 + optLen
	b := make([]byte, n)
	le.PutUint32(b[0:], ngIDB)
	le.PutUint32(b[4:], uint32(n))
	le.PutUint16(b[8:], uint16(ifc.LinkType))
	le.PutUint32(b[12:], uint32(ifc.Snaplen))
	o := b[16:]
	le.PutUint16(o[0:], optTSResol)
	le.PutUint16(o[2:], 1)
	o[4] = 9 // 10^-9 s
	o = o[8:]
	if len(name) > 0 {
		le.PutUint16(o[0:], optIfName)
		le.PutUint16(o[2:], uint16(len(name)))
		copy(o[4:], name)
	}
	// opt_endofopt is the zero bytes already there.
	le.PutUint32(b[n-4:], uint32(n))
	if _, err := wr.w.Write(b); err != nil {
		return 0, fmt.Errorf("writing an interface description: %w", err)
	}
	wr.snap = append(wr.snap, ifc.Snaplen)
	wr.nIface++
	return wr.nIface - 1, nil
}

// WritePacket writes one frame of interface id (0 for pcap) at ts
// (nanoseconds since the epoch), cut to the interface's snap length.
func (wr *Writer) WritePacket(id int, ts int64, data []byte, wire int) error {
	if id < 0 || id >= len(wr.snap) {
		return fmt.Errorf("interface %d: not described", id)
	}
	if s := wr.snap[id]; s > 0 && len(data) > s {
		data = data[:s]
	}
	var h []byte
	pad := 0
	if wr.ng {
		pad = (4 - len(data)%4) % 4
		n := 28 + len(data) + pad + 4
		h = wr.hdr[:28]
		le.PutUint32(h[0:], ngEPB)
		le.PutUint32(h[4:], uint32(n))
		le.PutUint32(h[8:], uint32(id))
		le.PutUint32(h[12:], uint32(uint64(ts)>>32))
		le.PutUint32(h[16:], uint32(ts))
		le.PutUint32(h[20:], uint32(len(data)))
		le.PutUint32(h[24:], uint32(wire))
	} else {
		h = wr.hdr[:16]
		le.PutUint32(h[0:], uint32(ts/1e9))
		le.PutUint32(h[4:], uint32(ts%1e9))
		le.PutUint32(h[8:], uint32(len(data)))
		le.PutUint32(h[12:], uint32(wire))
	}
	if _, err := wr.w.Write(h); err != nil {
		return fmt.Errorf("writing a record: %w", err)
	}
	if _, err := wr.w.Write(data); err != nil {
		return fmt.Errorf("writing a record: %w", err)
	}
	if wr.ng {
		le.PutUint32(wr.tail[4:], uint32(28+len(data)+pad+4))
		if _, err := wr.w.Write(wr.tail[4-pad:]); err != nil {
			return fmt.Errorf("writing a record: %w", err)
		}
	}
	return nil
}
