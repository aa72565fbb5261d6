package pktsummary

import "encoding/binary"

// DNS messages (RFC 1035 4.1) over UDP and TCP port 53 and mDNS (RFC 6762,
// UDP 5353), as tcpdump prints them without -v: a query is its id, "+"
// when recursion is desired and its questions ("4660+ A? example.com.
// (29)"); a response its id, flags, the counts of its sections and its
// answers ("4660 1/0/0 A 198.18.0.1 (45)"); the message length last.

// dnsHeaderLen is the length of the fixed header.
const dnsHeaderLen = 12

// dnsOpcodes are tcpdump's marks of the opcodes after the id.
var dnsOpcodes = [16]string{
	"", " inv_q", " stat", " op3", " notify", " update", " op6", " op7",
	" op8", " updateA", " updateD", " updateDA", " updateM", " updateMA",
	" zoneInit", " zoneRef",
}

// dnsRcodes are tcpdump's names of the response codes (two without a
// space before them, as tcpdump has them).
var dnsRcodes = [24]string{
	"", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused",
	" YXDomain", " YXRRSet", " NXRRSet", " NotAuth", " NotZone", " Resp11",
	" Resp12", " Resp13", " Resp14", " NoChange", " BadVers", "Resp17",
	" Resp18", " Resp19", " Resp20", "Resp21", " Resp22", " BadCookie",
}

// Header flag bits.
const (
	dnsQR = 0x8000
	dnsAA = 0x0400
	dnsTC = 0x0200
	dnsRD = 0x0100
	dnsRA = 0x0080
	dnsAD = 0x0020
	dnsCD = 0x0010
)

const dnsIQuery = 1

// dns prints a DNS message of length bytes, b as captured from its start
// (over TCP: from the length before it).
func (d *dec) dns(b []byte, length int, overTCP, mdns bool) {
	d.proto = "domain"
	if overTCP {
		if length < 2 {
			d.s(" [DNS over TCP: length ")
			d.u(uint64(length))
			d.s(" < 2]")
			d.invalid()
			return
		}
		length -= 2
		if n := int(be16(b, 0)); n != length {
			d.s(" [prefix length(")
			d.u(uint64(n))
			d.s(") != length(")
			d.u(uint64(length))
			d.s(")]")
			d.invalid()
			return
		}
		b = b[2:]
		d.s(" ")
	}
	if length < dnsHeaderLen {
		d.s("domain [length ")
		d.u(uint64(length))
		d.s(" < 12]")
		d.invalid()
		return
	}
	check(b, 0, dnsHeaderLen)
	id := binary.BigEndian.Uint16(b)
	flags := binary.BigEndian.Uint16(b[2:])
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	ns := int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	var ok bool
	if flags&dnsQR != 0 {
		ok = d.dnsResponse(b, id, flags, qd, an, ns, ar, mdns)
	} else {
		ok = d.dnsQuery(b, id, flags, qd, an, ns, ar, mdns)
	}
	if !ok {
		d.trunc()
		return
	}
	d.s(" (")
	d.u(uint64(length))
	d.s(")")
}

// dnsResponse prints a response's header and answers; false when the line
// ends in them.
func (d *dec) dnsResponse(b []byte, id, flags uint16, qd, an, ns, ar int, mdns bool) bool {
	d.u(uint64(id))
	d.s(dnsOpcodes[flags>>11&0xf])
	rcode := dnsExtendedRcode(b, flags, qd, an+ns, ar)
	if int(rcode) < len(dnsRcodes) {
		d.s(dnsRcodes[rcode])
	} else {
		d.s(" Resp")
		d.u(uint64(rcode & 0xfff))
	}
	if flags&dnsAA != 0 {
		d.s("*")
	}
	if flags&dnsRA == 0 {
		d.s("-")
	}
	if flags&dnsTC != 0 {
		d.s("|")
	}
	if flags&dnsAD != 0 {
		d.s("$")
	}
	if qd != 1 {
		d.s(" [")
		d.u(uint64(qd))
		d.s("q]")
	}
	off := dnsHeaderLen
	for i := range qd {
		if i > 0 {
			d.s(",") // tcpdump's separator of the questions it does not print
		}
		end, ok := nameSkip(b, off)
		if !ok {
			return false
		}
		off = end + 4
	}
	d.s(" ")
	d.u(uint64(an))
	d.s("/")
	d.u(uint64(ns))
	d.s("/")
	d.u(uint64(ar))
	for i := 0; an > 0 && (i == 0 || off < len(b)); i++ {
		if i > 0 {
			d.s(",")
		}
		var ok bool
		if off, ok = d.record(b, off, mdns); !ok {
			return false
		}
		an--
	}
	return an == 0
}

// dnsExtendedRcode is the response code with the upper bits an OPT
// record in the additional section adds (RFC 6891 6.1.3), as far as the
// records before it were captured.
func dnsExtendedRcode(b []byte, flags uint16, qd, anns, ar int) uint16 {
	rcode := flags & 0xf
	off := dnsHeaderLen
	for range qd {
		end, ok := nameSkip(b, off)
		if off = end + 4; !ok || off >= len(b) {
			return rcode
		}
	}
	for range anns {
		end, ok := nameSkip(b, off)
		if off = end + 8; !ok || off+2 > len(b) {
			return rcode
		}
		if off += 2 + int(binary.BigEndian.Uint16(b[off:])); off >= len(b) {
			return rcode
		}
	}
	for range ar {
		end, ok := nameSkip(b, off)
		if off = end; !ok || off+2 > len(b) {
			return rcode
		}
		typ := binary.BigEndian.Uint16(b[off:])
		if off += 4; off+1 > len(b) {
			return rcode
		}
		if typ == dnsOPT {
			return rcode | uint16(b[off])<<4
		}
		if off += 4; off+2 > len(b) {
			return rcode
		}
		if off += 2 + int(binary.BigEndian.Uint16(b[off:])); off >= len(b) {
			return rcode
		}
	}
	return rcode
}

// dnsQuery prints a query's header and questions; false when the line
// ends in them.
func (d *dec) dnsQuery(b []byte, id, flags uint16, qd, an, ns, ar int, mdns bool) bool {
	d.u(uint64(id))
	opcode := flags >> 11 & 0xf
	d.s(dnsOpcodes[opcode])
	if flags&dnsRD != 0 {
		d.s("+")
	}
	if flags&dnsCD != 0 {
		d.s("%")
	}
	if flags&0x6cf != 0 { // AA, TC, RA, Z or an rcode in a query
		d.s(" [b2&3=0x")
		d.hex(uint64(flags), 1)
		d.s("]")
	}
	count := func(n int, suffix string) {
		d.s(" [")
		d.u(uint64(n))
		d.s(suffix)
	}
	if opcode == dnsIQuery {
		if qd != 0 {
			count(qd, "q]")
		}
		if an != 1 {
			count(an, "a]")
		}
	} else {
		if an != 0 {
			count(an, "a]")
		}
		if qd != 1 {
			count(qd, "q]")
		}
	}
	if ns != 0 {
		count(ns, "n]")
	}
	if ar != 0 {
		count(ar, "au]")
	}
	off := dnsHeaderLen
	for i := 0; qd > 0 && (i == 0 || off < len(b)); i++ {
		var ok bool
		if off, ok = d.question(b, off, mdns); !ok {
			return false
		}
		qd--
	}
	return qd == 0
}
