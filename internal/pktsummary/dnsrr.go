package pktsummary

import "encoding/binary"

// DNS questions and resource records as tcpdump prints them without -v:
// the type, the class when it is not IN, and the data of the types it
// decodes.

// DNS record types the printer decodes the data of.
const (
	dnsA       = 1
	dnsNS      = 2
	dnsCNAME   = 5
	dnsSOA     = 6
	dnsPTR     = 12
	dnsMX      = 15
	dnsTXT     = 16
	dnsAAAA    = 28
	dnsSRV     = 33
	dnsA6      = 38
	dnsDNAME   = 39
	dnsOPT     = 41
	dnsUNSPECA = 104
	dnsTSIG    = 250
	dnsURI     = 256
)

// dnsTypeNames are tcpdump's names of the record types 1 to 48.
var dnsTypeNames = [...]string{
	"", "A", "NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "NULL",
	"WKS", "PTR", "HINFO", "MINFO", "MX", "TXT", "RP", "AFSDB", "X25",
	"ISDN", "RT", "NSAP", "NSAP_PTR", "SIG", "KEY", "PX", "GPOS", "AAAA",
	"LOC", "NXT", "EID", "NIMLOC", "SRV", "ATMA", "NAPTR", "KX", "CERT",
	"A6", "DNAME", "SINK", "OPT", "APL", "DS", "SSHFP", "IPSECKEY",
	"RRSIG", "NSEC", "DNSKEY",
}

// dnsType prints the name of a record type, "Type%u" for one without.
func (d *dec) dnsType(t uint16) {
	name := ""
	switch {
	case int(t) < len(dnsTypeNames):
		name = dnsTypeNames[t]
	case t >= 99 && t <= 104:
		name = [...]string{"SPF", "UINFO", "UID", "GID", "UNSPEC", "UNSPECA"}[t-99]
	case t >= 249 && t <= 256:
		name = [...]string{"TKEY", "TSIG", "IXFR", "AXFR", "MAILB", "MAILA", "ANY", "URI"}[t-249]
	}
	if name == "" {
		d.s("Type")
		d.u(uint64(t))
		return
	}
	d.s(name)
}

// dnsClass prints " CLASS" for a class other than IN.
func (d *dec) dnsClass(c uint16) {
	d.s(" ")
	switch c {
	case 3:
		d.s("CHAOS")
	case 4:
		d.s("HS")
	case 255:
		d.s("ANY")
	default:
		d.s("(Class ")
		d.u(uint64(c))
		d.s(")")
	}
}

// mDNS's top bit of the class: unicast response wanted in a question,
// cache flush in a record.
const mdnsClassBit = 0x8000

// question prints one question (" A? name.") and returns the offset after
// it; false when the line ends in it.
func (d *dec) question(b []byte, off int, mdns bool) (int, bool) {
	end, ok := nameSkip(b, off)
	if !ok || !have(b, end, 4) {
		return 0, false
	}
	d.s(" ")
	d.dnsType(binary.BigEndian.Uint16(b[end:]))
	c := binary.BigEndian.Uint16(b[end+2:])
	class := c
	if mdns {
		class &^= mdnsClassBit
	}
	if class != 1 {
		d.dnsClass(class)
	}
	if mdns {
		if c&mdnsClassBit != 0 {
			d.s(" (QU)")
		} else {
			d.s(" (QM)")
		}
	}
	d.s("? ")
	rp, ok := d.name(b, off, 0)
	return rp + 4, ok
}

// record prints one resource record without its name (" A 198.18.0.1")
// and returns the offset after it; false when the line ends in it. A
// record whose fixed part was not captured prints nothing and gives the
// end of the capture, as tcpdump's does.
func (d *dec) record(b []byte, off int, mdns bool) (int, bool) {
	off, ok := nameSkip(b, off)
	if !ok || !have(b, off, 10) {
		return len(b), true
	}
	typ := binary.BigEndian.Uint16(b[off:])
	c := binary.BigEndian.Uint16(b[off+2:])
	class := c
	if mdns {
		class &^= mdnsClassBit
	}
	if class != 1 && typ != dnsOPT {
		d.dnsClass(class)
	}
	if mdns && c&mdnsClassBit != 0 {
		d.s(" (Cache flush)")
	}
	optFlags := binary.BigEndian.Uint16(b[off+6:])
	n := int(binary.BigEndian.Uint16(b[off+8:]))
	off += 10
	rp := off + n
	d.s(" ")
	d.dnsType(typ)
	if rp > len(b) {
		return 0, false
	}
	switch typ {
	case dnsA:
		if !have(b, off, 4) {
			return 0, false
		}
		d.s(" ")
		d.ip4addr(b[off : off+4])
	case dnsNS, dnsCNAME, dnsPTR, dnsDNAME:
		d.s(" ")
		if _, ok := d.name(b, off, 0); !ok {
			return 0, false
		}
	case dnsMX:
		d.s(" ")
		if !have(b, off, 2) {
			return 0, false
		}
		if _, ok := d.name(b, off+2, 0); !ok {
			return 0, false
		}
		d.s(" ")
		d.u(uint64(binary.BigEndian.Uint16(b[off:])))
	case dnsTXT:
		for off < rp {
			d.s(` "`)
			if !have(b, off, 1) {
				return 0, false
			}
			l := int(b[off])
			if !d.printn(b, off+1, l) {
				return 0, false
			}
			off += 1 + l
			d.s(`"`)
		}
	case dnsSRV:
		d.s(" ")
		if !have(b, off, 6) {
			return 0, false
		}
		if _, ok := d.name(b, off+6, 0); !ok {
			return 0, false
		}
		d.s(":")
		d.u(uint64(binary.BigEndian.Uint16(b[off+4:])))
		d.s(" ")
		d.u(uint64(binary.BigEndian.Uint16(b[off:])))
		d.s(" ")
		d.u(uint64(binary.BigEndian.Uint16(b[off+2:])))
	case dnsAAAA:
		if !have(b, off, 16) {
			return 0, false
		}
		d.s(" ")
		d.ipaddr(b[off : off+16])
	case dnsA6:
		if !d.a6(b, off) {
			return 0, false
		}
	case dnsURI:
		if !have(b, off, n) {
			return 0, false
		}
		prio, weight := be16(b, off), be16(b, off+2)
		d.s(" ")
		d.u(uint64(prio))
		d.s(" ")
		d.u(uint64(weight))
		d.s(" ")
		if n < 4 { // tcpdump's length wraps around: all that was captured
			d.printn(b, off+4, len(b))
			return 0, false
		}
		if !d.printn(b, off+4, n-4) {
			return 0, false
		}
	case dnsOPT:
		d.s(" UDPsize=")
		d.u(uint64(class))
		if optFlags&0x8000 != 0 {
			d.s(" DO")
		}
		if off < rp {
			d.s(" [")
			for off < rp {
				if off, ok = d.ednsOption(b, off); !ok {
					return 0, false
				}
				if off < rp {
					d.s(",")
				}
			}
			d.s("]")
		}
	case dnsUNSPECA:
		if !have(b, off, n) || !d.printn(b, off, n) {
			return 0, false
		}
	}
	return rp, true
}

// a6 prints an A6 record's data (RFC 2874): the prefix length, the
// address suffix, the prefix name.
func (d *dec) a6(b []byte, off int) bool {
	if !have(b, off, 1) {
		return false
	}
	pbit := int(b[off])
	pbyte := pbit / 8
	switch {
	case pbit > 128:
		d.s(" ")
		d.u(uint64(pbit))
		d.s("(bad plen)")
		return true
	case pbit < 128:
		var a [16]byte
		need(b, off+1, 16-pbyte)
		copy(a[pbyte:], b[off+1:])
		d.s(" ")
		d.u(uint64(pbit))
		d.s(" ")
		d.ipaddr(a[:])
	}
	if pbit > 0 {
		d.s(" ")
		if _, ok := d.name(b, off+1+16-pbyte, 0); !ok {
			return false
		}
	}
	return true
}
