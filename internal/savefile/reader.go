package savefile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxSnaplen is the largest record the reader accepts (libpcap's
// MAXIMUM_SNAPLEN); a file's snap length of 0 or above it counts as it.
const MaxSnaplen = 262144

// maxBlock bounds a pcapng block (libpcap's limit: 16 MiB), so that a
// hostile length cannot make the reader allocate more.
const maxBlock = 16 << 20

// ErrUnknownFormat is returned for a file that is neither pcap nor pcapng.
var ErrUnknownFormat = errors.New("unknown file format")

// ErrTruncated is wrapped by the error for a file that ends inside a
// header, a record or a block.
var ErrTruncated = errors.New("truncated dump file")

// Interface is an interface the file's packets were captured on: the one
// of a pcap file, or an interface description block of a pcapng file.
type Interface struct {
	LinkType uint32
	// Snaplen is the interface's snap length, MaxSnaplen when the file
	// says 0 or more than MaxSnaplen.
	Snaplen int
	// Name is the pcapng if_name option ("" when absent).
	Name string
	// BigEndian reports the byte order of the file (pcapng: of the section)
	// that describes the interface: the order of the machine that wrote
	// it, which DLT_NULL's address-family word is in.
	BigEndian bool
}

// Packet is one frame of the file.
type Packet struct {
	// Timestamp is the frame's time in nanoseconds since the epoch.
	Timestamp int64
	// Data is the captured bytes (at most the interface's snap length),
	// valid until the next call of Next.
	Data []byte
	// Length is the frame's length on the wire.
	Length int
	// Interface is the frame's interface: an index into Interfaces,
	// counted across the file's sections.
	Interface int
}

// Reader reads the packets of one pcap or pcapng file.
type Reader struct {
	r      *bufio.Reader
	off    int64 // bytes read so far
	ng     bool
	bo     binary.ByteOrder
	nano   bool // pcap: nanosecond timestamps
	ifaces []Interface
	// pcapng: the current section's interfaces start at base in ifaces;
	// res and tsoff are per interface of the whole file.
	base  int
	res   []tsres
	tsoff []int64
	buf   []byte
	pkt   Packet
}

// NewReader reads the file header of r (pcap) or its first section header
// and interface description (pcapng), as libpcap does when it opens a file.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	var magic [4]byte
	if err := rd.full(magic[:], "file header"); err != nil {
		return nil, eofTruncated(err, "file header")
	}
	switch {
	case binary.LittleEndian.Uint32(magic[:]) == ngSHB:
		rd.ng = true
		if err := rd.openNG(magic); err != nil {
			return nil, err
		}
	default:
		if err := rd.openPcap(magic); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

// Format returns "pcap" or "pcapng".
func (rd *Reader) Format() string {
	if rd.ng {
		return "pcapng"
	}
	return "pcap"
}

// Interfaces returns the interfaces described so far; a pcapng file may
// describe more as it is read (Next's Packet.Interface is always below
// len(Interfaces())).
func (rd *Reader) Interfaces() []Interface { return rd.ifaces }

// Next returns the next packet, or io.EOF after the last one. The Packet
// and its Data are valid until the next call.
func (rd *Reader) Next() (*Packet, error) {
	if rd.ng {
		return rd.nextNG()
	}
	return rd.nextPcap()
}

// full reads len(b) bytes; what ends before them is ErrTruncated (io.EOF
// only when nothing at all was read and what was wanted is optional,
// which the callers decide).
func (rd *Reader) full(b []byte, what string) error {
	n, err := io.ReadFull(rd.r, b)
	rd.off += int64(n)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF) && n == 0:
		return io.EOF
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s: wanted %d bytes, got %d", ErrTruncated, what, len(b), n)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// scratch returns a buffer of n bytes, reused between calls.
func (rd *Reader) scratch(n int) []byte {
	if cap(rd.buf) < n {
		rd.buf = make([]byte, n)
	}
	return rd.buf[:n]
}

// discard skips n bytes.
func (rd *Reader) discard(n int64, what string) error {
	got, err := io.CopyN(io.Discard, rd.r, n)
	rd.off += got
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %s: wanted %d bytes, got %d", ErrTruncated, what, n, got)
		}
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

// normSnaplen is libpcap's treatment of a file's snap length.
func normSnaplen(n uint32) int {
	if n == 0 || n > MaxSnaplen {
		return MaxSnaplen
	}
	return int(n)
}
