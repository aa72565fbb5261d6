package pktsummary

import (
	"encoding/binary"
	"strconv"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// Options are the tcpdump flags that change the lines.
type Options struct {
	// AbsoluteSeq is -S: TCP sequence and acknowledgement numbers as
	// they are on the wire, never relative to the connection's first.
	AbsoluteSeq bool
	// Quick is -q: less protocol information ("tcp 0" instead of the
	// flags, sequence numbers and options).
	Quick bool
	// LinkHeader is -e: the link-level header first on each line
	// (addresses, EtherType, VLAN tags, length).
	LinkHeader bool
	// Dump is -x, -X or -A: the frame's bytes after its line, from
	// after the link-level header (from its start with DumpLinkHeader:
	// -xx, -XX, -AA).
	Dump           Dump
	DumpLinkHeader bool
}

// Dump is a way tcpdump prints the bytes of each frame after its line.
type Dump uint8

// The dumps: -x, -X, -A.
const (
	DumpNone     Dump = iota
	DumpHex           // -x: lines of 16 bytes in hex
	DumpHexASCII      // -X: the same with the bytes in ASCII beside them
	DumpASCII         // -A: the bytes as text
)

// Printer writes tcpdump's line of each frame, as "tcpdump -nn" prints it
// after the timestamp. It keeps the state tcpdump keeps between frames:
// the first sequence numbers of each TCP connection, for the relative
// numbers it prints without -S. A Printer is not safe for concurrent use.
type Printer struct {
	opts   Options
	ifName IfName
	tcp    tcpConns
	d      dec // reused for every frame, so that a line allocates nothing
}

// NewPrinter returns a Printer; ifName names the interfaces of LINUX_SLL2
// headers (nil: tcpdump's "?" for every index).
func NewPrinter(opts Options, ifName IfName) *Printer {
	return &Printer{opts: opts, ifName: ifName}
}

// Append appends the line of one frame of the given link type, captured
// as data and wire bytes long on the wire, to dst and returns it: what
// tcpdump prints after the timestamp and its space, without the final
// newline. A frame tcpdump prints on several lines (a hex dump of an
// unknown payload) has its further lines after newlines.
func (p *Printer) Append(dst []byte, linkType uint32, data []byte, wire int) []byte {
	d := &p.d
	*d = dec{p: p, out: dst, undo: -1}
	if d.invalidHeader(len(data), wire) {
		return d.out
	}
	d.link(linkType, data, wire)
	d.dump(data)
	return d.out
}

// maxSnaplen is tcpdump's largest snap length: longer frames are invalid.
const maxSnaplen = 262144

// invalidHeader prints tcpdump's complaint about a record whose lengths
// cannot be, true if there is one.
func (d *dec) invalidHeader(caplen, wire int) bool {
	start := len(d.out)
	sep := func() {
		if len(d.out) == start {
			d.s("[Invalid header:")
		} else {
			d.s(",")
		}
	}
	if caplen == 0 {
		d.s("[Invalid header: caplen==0")
	}
	if wire == 0 {
		sep()
		d.s(" len==0")
	} else if wire < caplen {
		sep()
		d.s(" len(")
		d.u(uint64(wire))
		d.s(") < caplen(")
		d.u(uint64(caplen))
		d.s(")")
	}
	if caplen > maxSnaplen {
		sep()
		d.s(" caplen(")
		d.u(uint64(caplen))
		d.s(") > 262144")
	}
	if wire > maxSnaplen {
		sep()
		d.s(" len(")
		d.u(uint64(wire))
		d.s(") > 262144")
	}
	if len(d.out) == start {
		return false
	}
	d.s("]")
	return true
}

// bailout is what a read past the captured bytes panics with: tcpdump's
// "[|proto]" ends the line where it stopped, as its longjmp does.
type bailout struct{}

// softBailout is a truncation tcpdump reports without its longjmp (its
// printer returns): the line ends the same, but -x and -X still leave
// out the link-level header.
type softBailout struct{}

// dec is the decoding of one frame: the line so far and the protocol a
// truncation is reported for.
type dec struct {
	p     *Printer
	out   []byte
	proto string // the innermost protocol being decoded, for "[|proto]"
	undo  int    // where a truncation cuts the line back to, -1: nowhere
	depth int    // IP in IP nesting
	// hdr is the length of the link-level header as tcpdump counts it
	// for -x, -X and -A (0 when the decoding stopped in a truncation).
	hdr int
}

func (d *dec) s(s string) { d.out = append(d.out, s...) }

func (d *dec) u(v uint64) { d.out = strconv.AppendUint(d.out, v, 10) }

// trunc appends tcpdump's truncation mark for the current protocol.
func (d *dec) trunc() { d.s(" [|"); d.s(d.proto); d.s("]") }

// Readers: each checks that the bytes were captured, and bails out (see
// run) when they were not.

func need(b []byte, off, n int) {
	if off < 0 || n < 0 || off+n > len(b) {
		panic(bailout{})
	}
}

// check is need where tcpdump checks the bytes before it reads them and
// returns when they are not there (ND_TCHECK), rather than jumps.
func check(b []byte, off, n int) {
	if off < 0 || n < 0 || off+n > len(b) {
		panic(softBailout{})
	}
}

// jumped records that tcpdump ended the line with its longjmp where this
// printer returns: -x and -X dump all of the frame.
func (d *dec) jumped() { d.hdr = 0 }

func u8(b []byte, off int) byte {
	need(b, off, 1)
	return b[off]
}

func be16(b []byte, off int) uint16 {
	need(b, off, 2)
	return binary.BigEndian.Uint16(b[off:])
}

func be32(b []byte, off int) uint32 {
	need(b, off, 4)
	return binary.BigEndian.Uint32(b[off:])
}

// run calls f and turns a bailout into the truncation mark.
func (d *dec) run(f func()) {
	defer func() {
		if r := recover(); r != nil {
			switch r.(type) {
			case bailout:
				d.jumped()
			case softBailout:
			default:
				panic(r)
			}
			if d.undo >= 0 {
				d.out = d.out[:d.undo]
			}
			d.trunc()
		}
	}()
	f()
}

// link decodes the link-layer header and what it carries.
func (d *dec) link(linkType uint32, b []byte, wire int) {
	d.run(func() {
		switch bpfcompile.LinkType(linkType) {
		case bpfcompile.LinkTypeEthernet:
			d.ether(b, wire)
		case bpfcompile.LinkTypeRaw, bpfcompile.LinkTypeIPv4, bpfcompile.LinkTypeIPv6:
			d.rawIP(b, wire)
		case bpfcompile.LinkTypeNull, bpfcompile.LinkTypeLoop:
			d.loopback(bpfcompile.LinkType(linkType), b, wire)
		case bpfcompile.LinkTypeLinuxSLL:
			d.sll(b, wire)
		case bpfcompile.LinkTypeLinuxSLL2:
			d.sll2(b, wire)
		default:
			// tcpdump: "unsupported data link type"; not decoded here.
			d.s("link type ")
			d.u(uint64(linkType))
			d.s(", length ")
			d.u(uint64(wire))
		}
	})
}

// rawIP is DLT_RAW and its IPv4/IPv6 variants: the IP version says which.
func (d *dec) rawIP(b []byte, wire int) {
	if d.p.opts.LinkHeader {
		d.s("ip: ")
	}
	d.proto = "ipn"
	switch u8(b, 0) >> 4 {
	case 4:
		d.ip4(b, wire)
	case 6:
		d.ip6(b, wire)
	default:
		d.s("unknown ip ")
		d.u(uint64(b[0] >> 4))
	}
}
