package savefile

import (
	"fmt"
	"io"

	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// Writer writes a pcap or pcapng file one record at a time, byte for byte
// as the daemon's capture files (agent/capfile): little-endian, nanosecond
// timestamps. It does not buffer: wrap w in a bufio.Writer and flush when
// the reader should see the records.
type Writer struct {
	w    io.Writer
	ng   bool
	ifcs []writerIface
	rec  []byte // one record: head, frame, padding, tail
}

// writerIface is how the records of one interface are written.
type writerIface struct {
	snap int
	rf   capfile.RecordFormat
}

// NewPcapWriter writes the header of a nanosecond pcap file of one link
// type and returns the writer of its records (interface 0).
func NewPcapWriter(w io.Writer, linkType uint32, snaplen int) (*Writer, error) {
	if _, err := w.Write(capfile.PcapHeader(linkType, snaplen)); err != nil {
		return nil, fmt.Errorf("writing the pcap file header: %w", err)
	}
	return &Writer{w: w, ifcs: []writerIface{{snap: snaplen, rf: capfile.PcapRecords()}}}, nil
}

// NewPcapngWriter writes a pcapng section header; AddInterface then
// describes each interface before its first packet.
func NewPcapngWriter(w io.Writer) (*Writer, error) {
	if _, err := w.Write(capfile.NGSection()); err != nil {
		return nil, fmt.Errorf("writing the pcapng section header: %w", err)
	}
	return &Writer{w: w, ng: true}, nil
}

// AddInterface writes an interface description block (nanosecond
// timestamps, ifc.Name as if_name) and returns its id.
func (wr *Writer) AddInterface(ifc Interface) (int, error) {
	if !wr.ng {
		return 0, fmt.Errorf("a pcap file has one interface")
	}
	idb := capfile.NGInterface(capfile.Interface{Name: ifc.Name, LinkType: ifc.LinkType, Snaplen: ifc.Snaplen})
	if _, err := wr.w.Write(idb); err != nil {
		return 0, fmt.Errorf("writing an interface description: %w", err)
	}
	id := len(wr.ifcs)
	wr.ifcs = append(wr.ifcs, writerIface{snap: ifc.Snaplen, rf: capfile.EPBRecords(uint32(id))})
	return id, nil
}

// WritePacket writes one frame of interface id (0 for pcap) at ts
// (nanoseconds since the epoch), cut to the interface's snap length.
func (wr *Writer) WritePacket(id int, ts int64, data []byte, wire int) error {
	if id < 0 || id >= len(wr.ifcs) {
		return fmt.Errorf("interface %d: not described", id)
	}
	ifc := &wr.ifcs[id]
	if ifc.snap > 0 && len(data) > ifc.snap {
		data = data[:ifc.snap]
	}
	n := ifc.rf.Len(len(data))
	if cap(wr.rec) < n {
		wr.rec = make([]byte, n)
	}
	rec := wr.rec[:n]
	copy(rec[ifc.rf.Head:], data)
	clear(rec[ifc.rf.Head+len(data):]) // the padding
	ifc.rf.Put(rec, ts, len(data), wire)
	if _, err := wr.w.Write(rec); err != nil {
		return fmt.Errorf("writing a record: %w", err)
	}
	return nil
}
