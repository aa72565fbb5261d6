package capfile

// NewPcapRecordWriter returns a PcapWriter that writes nothing but pcap
// records into buf, no file header: the part of a pcap file that comes
// from elsewhere than the writer that made the header (the frames a
// look-back ring held before a capture's own). Its Finish writes
// nothing, as a PcapWriter's.
func NewPcapRecordWriter(buf *Buffer, snaplen int) *PcapWriter {
	return &PcapWriter{buf: buf, snaplen: snaplen}
}
