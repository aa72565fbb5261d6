package pktsummary

// Domain names in DNS messages (RFC 1035 4.1.4), as tcpdump prints them:
// labels with a dot after each, compression pointers followed only
// backwards (so that a crafted message cannot loop), RFC 2673 bit-string
// labels in hex, and its marks for what it cannot decode.

// Kinds of a label's first byte: its top two bits.
const (
	labelMask     = 0xc0
	labelPointer  = 0xc0
	labelReserved = 0x80
	labelExtended = 0x40 // EDNS0 extended label type; 0x41 is a bit string
	labelBits     = 0x01
	maxNameChars  = 255 // longest name printed whole (MAXCDNAME)
)

// have reports whether b holds the n bytes at off.
func have(b []byte, off, n int) bool { return off >= 0 && n >= 0 && off+n <= len(b) }

// nameSkip returns the offset after the name at off, without printing it;
// false when the name is not all captured or has a label type it cannot
// skip. A pointer ends the name: it is two bytes long.
func nameSkip(b []byte, off int) (int, bool) {
	if !have(b, off, 1) {
		return 0, false
	}
	i := b[off]
	off++
	for i != 0 {
		switch i & labelMask {
		case labelPointer:
			return off + 1, true
		case labelExtended:
			if i&^labelMask != labelBits || !have(b, off, 1) {
				return 0, false
			}
			off += 1 + bitLabelBytes(b[off])
		case labelReserved:
			return 0, false
		default:
			off += int(i)
		}
		if !have(b, off, 1) {
			return 0, false
		}
		i = b[off]
		off++
	}
	return off, true
}

// bitLabelBytes is the length in bytes of a bit-string label of bitlen
// bits (0: 256).
func bitLabelBytes(bitlen byte) int {
	n := int(bitlen)
	if n == 0 {
		n = 256
	}
	return (n + 7) / 8
}

// labelLen is the length of the label whose first byte is at off (for a
// pointer, that byte itself), -1 when it cannot be read or is of a type
// tcpdump does not know, which it says.
func (d *dec) labelLen(b []byte, off int) int {
	if !have(b, off, 1) {
		return -1
	}
	i := b[off]
	switch i & labelMask {
	case labelExtended:
		if elt := i &^ labelMask; elt != labelBits {
			d.s("<ELT ")
			d.u(uint64(elt))
			d.s(">")
			return -1
		}
		if !have(b, off+1, 1) {
			return -1
		}
		return bitLabelBytes(b[off+1]) + 1
	case labelReserved:
		d.s("<BAD LABEL TYPE>")
		return -1
	}
	return int(i)
}

// bitLabel prints a bit-string label whose length byte is at off:
// "\[x" and its bits in hex, "/bits]".
func (d *dec) bitLabel(b []byte, off int) bool {
	if !have(b, off, 1) {
		return false
	}
	bits := int(b[off])
	if bits == 0 {
		bits = 256
	}
	d.s(`\[x`)
	p, n := off+1, bits
	for ; n > 7; n, p = n-8, p+1 {
		d.hex(uint64(u8(b, p)), 2)
	}
	switch {
	case n > 4:
		d.hex(uint64(u8(b, p)&(0xff<<(8-n))), 2)
	case n > 0:
		d.hex(uint64((u8(b, p)>>4)&(0x0f<<(4-n))), 1)
	}
	d.s("/")
	d.u(uint64(bits))
	d.s("]")
	return true
}

// label returns the label byte at off and the label's length
// (labelLen); false when decoding stops there.
func (d *dec) label(b []byte, off int) (byte, int, bool) {
	l := d.labelLen(b, off)
	if l < 0 {
		return 0, 0, false
	}
	return b[off], l, true
}

// name prints the domain name at off of a message that starts at base
// (where pointers point from) and returns the offset after the name where
// it stood (after its first pointer if it has one); false when tcpdump's
// decoding stops in it (not captured, a bad label or pointer).
func (d *dec) name(b []byte, off, base int) (int, bool) {
	i, l, ok := d.label(b, off)
	if !ok {
		return 0, false
	}
	limit := uint32(off - base) // a pointer must point before it
	off++
	rp, compressed := -1, false
	if i&labelMask != labelPointer {
		rp = off + l
	}
	if i == 0 {
		d.s(".")
		return rp, true
	}
	chars := 0
	for i != 0 && off < len(b) {
		switch i & labelMask {
		case labelPointer:
			if !compressed {
				rp, compressed = off+1, true
			}
			if !have(b, off, 1) {
				return 0, false
			}
			ptr := (uint32(i)<<8 | uint32(b[off])) & 0x3fff
			if ptr >= limit {
				d.s("<BAD PTR>")
				return 0, false
			}
			limit = ptr
			off = base + int(ptr)
			if i, l, ok = d.label(b, off); !ok {
				return 0, false
			}
			off++
			continue
		case labelExtended:
			if !d.bitLabel(b, off) {
				return 0, false
			}
		case labelReserved:
			d.s("<BAD LABEL TYPE>")
			return 0, false
		default:
			switch {
			case chars+l <= maxNameChars:
				if !d.printn(b, off, l) {
					return 0, false
				}
			case chars < maxNameChars:
				if !d.printn(b, off, maxNameChars-chars) {
					return 0, false
				}
			}
			chars += l
		}
		off += l
		if chars <= maxNameChars {
			d.s(".")
		}
		chars++
		if i, l, ok = d.label(b, off); !ok {
			return 0, false
		}
		off++
		if !compressed {
			rp += l + 1
		}
	}
	if chars > maxNameChars {
		d.s("<DOMAIN NAME TOO LONG>")
	}
	return rp, rp >= 0
}

// printn prints the n bytes at off as tcpdump prints text it does not
// trust ("M-" before a byte with the top bit set, "^" before a control
// character), as far as they were captured; false when they were not all.
func (d *dec) printn(b []byte, off, n int) bool {
	for ; n > 0 && off < len(b); n, off = n-1, off+1 {
		d.char(b[off])
	}
	return n <= 0
}

// char prints one byte as tcpdump's fn_print_char does.
func (d *dec) char(c byte) {
	if c >= 0x80 {
		c &= 0x7f
		d.s("M-")
	}
	if !printable(c) {
		c ^= 0x40 // DEL to '?', the others to letters
		d.s("^")
	}
	d.out = append(d.out, c)
}
