package pktsummary

// The bytes of a frame after its line, as tcpdump's -x, -X and -A print
// them: from after the link-level header (as far as tcpdump decoded it;
// all of a frame whose decoding stopped in a truncation), or from the
// frame's start with -xx, -XX and -AA.

// dump appends the dump the options ask for of the frame data.
func (d *dec) dump(data []byte) {
	o := d.p.opts
	if o.Dump == DumpNone {
		return
	}
	b := data
	if !o.DumpLinkHeader {
		if len(data) <= d.hdr {
			return // nothing after the link-level header
		}
		b = data[d.hdr:]
	}
	switch o.Dump {
	case DumpHex:
		d.hexOnly(b)
	case DumpHexASCII:
		d.hexASCII(b)
	case DumpASCII:
		d.ascii(b)
	}
}

// hexOnly is -x: lines of "\t0x0010: " and up to eight groups of two
// bytes in hex, each after a space.
func (d *dec) hexOnly(b []byte) {
	for off := 0; off < len(b); off += 2 {
		if off%16 == 0 {
			d.s("\n\t0x")
			d.hex(uint64(off), 4)
			d.s(": ")
		}
		d.s(" ")
		d.hex(uint64(b[off]), 2)
		if off+1 < len(b) {
			d.hex(uint64(b[off+1]), 2)
		}
	}
}

// hexASCII is -X and tcpdump's dump of a payload it does not decode: the
// lines of -x, padded, and the bytes that are graphic characters beside
// them ('.' for the others).
func (d *dec) hexASCII(b []byte) {
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		d.s("\n\t0x")
		d.hex(uint64(off), 4)
		d.s(": ")
		n := 0
		for i := 0; i < len(line); i += 2 {
			d.s(" ")
			d.hex(uint64(line[i]), 2)
			n += 3
			if i+1 < len(line) {
				d.hex(uint64(line[i+1]), 2)
				n += 2
			}
		}
		for ; n < 40; n++ {
			d.out = append(d.out, ' ')
		}
		d.s("  ")
		for _, c := range line {
			if c <= 0x20 || c > 0x7e { // not graphic
				c = '.'
			}
			d.out = append(d.out, c)
		}
	}
}

// ascii is -A: a newline, then the bytes as text: graphic characters,
// spaces, tabs and newlines as they are, a carriage return not at all
// before a newline (nor before the last byte), '.' for the others.
func (d *dec) ascii(b []byte) {
	d.s("\n")
	for i, c := range b {
		switch {
		case c == '\r':
			if rest := len(b) - i - 1; rest > 1 && b[i+1] != '\n' {
				d.out = append(d.out, '.')
			}
		case c > 0x20 && c <= 0x7e, c == '\t', c == ' ', c == '\n':
			d.out = append(d.out, c)
		default:
			d.out = append(d.out, '.')
		}
	}
}
