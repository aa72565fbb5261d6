package pktsummary

import "encoding/binary"

// EDNS options of an OPT record (RFC 6891), as tcpdump prints them.

// ednsOptionName is tcpdump's name of an EDNS option code, "" for none.
func ednsOptionName(code uint16) string {
	switch code {
	case 1:
		return "LLQ"
	case 2:
		return "UL"
	case 3:
		return "NSID"
	case 5:
		return "DAU"
	case 6:
		return "DHU"
	case 7:
		return "N3U"
	case 8:
		return "ECS"
	case 9:
		return "EXPIRE"
	case 10:
		return "COOKIE"
	case 11:
		return "KEEPALIVE"
	case 12:
		return "PADDING"
	case 13:
		return "CHAIN"
	case 14:
		return "KEY-TAG"
	case 16:
		return "CLIENT-TAG"
	case 17:
		return "SERVER-TAG"
	}
	return ""
}

// dnssecAlgName is tcpdump's name of a DNSSEC algorithm (DAU), "" for none.
func dnssecAlgName(a byte) string {
	switch a {
	case 0:
		return "DELETE"
	case 1:
		return "RSAMD5"
	case 2:
		return "DH"
	case 3:
		return "DS" // sic
	case 5:
		return "RSASHA1"
	case 6:
		return "DSA-NSEC3-SHA1"
	case 7:
		return "RSASHA1-NSEC3-SHA1"
	case 8:
		return "RSASHA256"
	case 10:
		return "RSASHA512"
	case 12:
		return "ECC-GOST"
	case 13:
		return "ECDSAP256SHA256"
	case 14:
		return "ECDSAP384SHA384"
	case 15:
		return "ED25519"
	case 16:
		return "ED448"
	case 252:
		return "INDIRECT"
	case 253:
		return "PRIVATEDNS"
	case 254:
		return "PRIVATEOID"
	}
	return ""
}

// dsHashName is tcpdump's name of a DS digest (DHU), "" for none.
func dsHashName(a byte) string {
	switch a {
	case 1:
		return "SHA-1"
	case 2:
		return "SHA-256"
	case 3:
		return "GOST_R_34.11-94"
	case 4:
		return "SHA-384"
	}
	return ""
}

// nsec3HashName is tcpdump's name of an NSEC3 hash (N3U), "" for none.
func nsec3HashName(a byte) string {
	if a == 1 {
		return "SHA-1"
	}
	return ""
}

// algList prints each byte of b by name, "Alg_N" for one without.
func (d *dec) algList(b []byte, name func(byte) string) {
	for i, a := range b {
		if i > 0 {
			d.s(" ")
		}
		if n := name(a); n != "" {
			d.s(n)
		} else {
			d.s("Alg_")
			d.u(uint64(a))
		}
	}
}

func (d *dec) invalid() { d.s(" (invalid)") }

// ednsOption prints the option at off and returns the offset after it;
// false when it was not all captured.
func (d *dec) ednsOption(b []byte, off int) (int, bool) {
	if !have(b, off, 2) {
		return 0, false
	}
	code := binary.BigEndian.Uint16(b[off:])
	if n := ednsOptionName(code); n != "" {
		d.s(n)
	} else {
		d.s("Opt")
		d.u(uint64(code))
	}
	if !have(b, off+2, 2) {
		return 0, false
	}
	n := int(binary.BigEndian.Uint16(b[off+2:]))
	off += 4
	if !have(b, off, n) {
		return 0, false
	}
	if n == 0 {
		return off, true
	}
	v := b[off : off+n]
	d.s(" ")
	switch code {
	case 8:
		d.clientSubnet(v)
	case 10:
		if n < 8 || n > 8 && n < 16 || n > 40 {
			d.invalid()
			break
		}
		for i, c := range v {
			if i == 8 { // the client's cookie, then the server's
				d.s(" ")
			}
			d.hex(uint64(c), 2)
		}
	case 11:
		if n != 2 {
			d.invalid()
			break
		}
		t := binary.BigEndian.Uint16(v) // in units of 100 ms
		d.u(uint64(t / 10))
		d.s(".")
		d.u(uint64(t % 10))
		d.s(" sec")
	case 9:
		if n != 4 {
			d.invalid()
			break
		}
		d.u(uint64(binary.BigEndian.Uint32(v)))
		d.s(" sec")
	case 12:
		d.s("(")
		d.u(uint64(n))
		d.s(")")
	case 14:
		if n%2 != 0 {
			d.invalid()
			break
		}
		for i := 0; i < n; i += 2 {
			if i > 0 {
				d.s(" ")
			}
			d.u(uint64(binary.BigEndian.Uint16(v[i:])))
		}
	case 5:
		d.algList(v, dnssecAlgName)
	case 6:
		d.algList(v, dsHashName)
	case 7:
		d.algList(v, nsec3HashName)
	case 13:
		// The name's pointers count from the option's end, as tcpdump's do.
		d.name(b, off, off+n)
	default:
		for _, c := range v {
			d.hex(uint64(c), 2)
		}
	}
	return off + n, true
}

// clientSubnet prints an EDNS client subnet (RFC 7871):
// "address/source/scope".
func (d *dec) clientSubnet(v []byte) {
	if len(v) < 4 {
		d.invalid()
		return
	}
	family, src, scope := binary.BigEndian.Uint16(v), int(v[2]), int(v[3])
	bits := 0
	switch family {
	case 1:
		bits = 32
	case 2:
		bits = 128
	default:
		d.invalid()
		return
	}
	if len(v)-4 > bits/8 || src > bits || scope > bits || (src+7)/8 != len(v)-4 {
		d.invalid()
		return
	}
	var a [16]byte
	copy(a[:], v[4:])
	d.ipaddr(a[:bits/8])
	d.s("/")
	d.u(uint64(src))
	d.s("/")
	d.u(uint64(scope))
}
