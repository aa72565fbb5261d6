package pktsummary

import "encoding/binary"

// TCP flag bits.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
	tcpURG = 0x20
)

// tcpFlagChars are tcpdump's letters of the flags, lowest bit first.
const tcpFlagChars = "FSRP.UEW"

// tcp decodes a TCP segment of length bytes (header included).
func (d *dec) tcp(h *ipHdr, b []byte, length int, fragmented bool) {
	d.proto = "tcp"
	if len(b) < 4 {
		d.ipaddr(h.src)
		d.s(" > ")
		d.ipaddr(h.dst)
		d.s(":")
		d.trunc()
		return
	}
	sport, dport := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	d.ports(h, sport, dport)
	check(b, 0, 20)
	hlen := int(b[12]>>4) * 4
	if hlen < 20 {
		d.s(" tcp ")
		d.u(uint64(uint32(length - hlen)))
		d.s(" [bad hdr length ")
		d.u(uint64(hlen))
		d.s(" - too short, < 20]")
		return
	}
	seq, ack := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
	win, urp := binary.BigEndian.Uint16(b[14:]), binary.BigEndian.Uint16(b[18:])
	if d.p.opts.Quick {
		d.s("tcp ")
		d.u(uint64(uint32(length - hlen)))
		if hlen > length {
			d.badLen(hlen, length)
		}
		return
	}
	flags := b[13]
	d.s("Flags [")
	if flags == 0 {
		d.s("none")
	}
	for i := range 8 {
		if flags&(1<<i) != 0 {
			d.out = append(d.out, tcpFlagChars[i])
		}
	}
	d.s("]")

	var thseq, thack uint32
	rev := false
	if !d.p.opts.AbsoluteSeq && flags&tcpACK != 0 {
		seq, ack, thseq, thack, rev = d.p.tcp.relative(h, sport, dport, seq, ack, flags&tcpSYN != 0)
	}
	if hlen > length {
		d.badLen(hlen, length)
		return
	}
	length -= hlen
	if length > 0 || flags&(tcpSYN|tcpFIN|tcpRST) != 0 {
		d.s(", seq ")
		d.u(uint64(seq))
		if length > 0 {
			d.s(":")
			d.u(uint64(seq + uint32(length)))
		}
	}
	if flags&tcpACK != 0 {
		d.s(", ack ")
		d.u(uint64(ack))
	}
	d.s(", win ")
	d.u(uint64(win))
	if flags&tcpURG != 0 {
		d.s(", urg ")
		d.u(uint64(urp))
	}
	if hlen > 20 {
		if !d.tcpOptions(b[20:], hlen-20, rev, thseq, thack) {
			return
		}
	}
	d.s(", length ")
	d.u(uint64(length))
	if length == 0 {
		return
	}
	d.needHeader(b, hlen)
	d.tcpPayload(sport, dport, b[hlen:], length)
}

func (d *dec) badLen(hlen, length int) {
	d.s(" [bad hdr length ")
	d.u(uint64(hlen))
	d.s(" - too long, > ")
	d.u(uint64(uint32(length)))
	d.s("]")
}

// ports prints "src.sport > dst.dport: ", or only the ports when the IP
// layer printed the addresses (IPv6 extension headers before).
func (d *dec) ports(h *ipHdr, sport, dport uint16) {
	if h.direct {
		d.ipaddr(h.src)
		d.s(".")
		d.u(uint64(sport))
		d.s(" > ")
		d.ipaddr(h.dst)
		d.s(".")
		d.u(uint64(dport))
	} else {
		d.u(uint64(sport))
		d.s(" > ")
		d.u(uint64(dport))
	}
	d.s(": ")
}

// tcpOptionName is tcpdump's name of a TCP option ("" for none).
func tcpOptionName(kind byte) string {
	switch kind {
	case 0:
		return "eol"
	case 1:
		return "nop"
	case 2:
		return "mss"
	case 3:
		return "wscale"
	case 4:
		return "sackOK"
	case 5:
		return "sack"
	case 6:
		return "echo"
	case 7:
		return "echoreply"
	case 8:
		return "TS"
	case 11:
		return "cc"
	case 12:
		return "ccnew"
	case 13:
		return ""
	case 19:
		return "md5"
	case 20:
		return "scps"
	case 28:
		return "uto"
	case 29:
		return "tcp-ao"
	case 30:
		return "mptcp"
	case 34:
		return "tfo"
	case 254:
		return "exp"
	}
	return "\x00"
}

// tcpOptions prints the options (hl bytes of them, b as captured); false
// when the line ends in them (a malformed or truncated option).
func (d *dec) tcpOptions(b []byte, hl int, rev bool, thseq, thack uint32) bool {
	d.s(", options [")
	var ch byte
	cp := 0
	// lencheck is tcpdump's check that l bytes of the option's data are
	// there (false: the line ends, as it says).
	lencheck := func(l int) bool {
		if l > hl {
			d.s("[bad opt]")
			if ch != 0 {
				d.s("]")
			}
			return false
		}
		if cp+l > len(b) {
			d.trunc()
			if ch != 0 {
				d.s(">")
			}
			return false
		}
		return true
	}
	for hl > 0 {
		if ch != 0 {
			d.out = append(d.out, ch)
		}
		opt := u8(b, cp)
		cp++
		ln := 1
		if opt > 1 {
			ln = int(u8(b, cp))
			cp++
			if ln < 2 || ln > hl {
				d.s("[bad opt]")
				if ch != 0 {
					d.s("]")
				}
				return false
			}
			hl--
		}
		hl--
		if n := tcpOptionName(opt); n != "\x00" {
			d.s(n)
		} else {
			d.s("unknown-")
			d.u(uint64(opt))
		}
		datalen := 0
		switch opt {
		case 2:
			datalen = 2
			if !lencheck(2) {
				return false
			}
			d.s(" ")
			d.u(uint64(binary.BigEndian.Uint16(b[cp:])))
		case 3:
			datalen = 1
			if !lencheck(1) {
				return false
			}
			d.s(" ")
			d.u(uint64(b[cp]))
		case 5:
			datalen = ln - 2
			if datalen%8 != 0 {
				d.s(" invalid sack")
				break
			}
			d.s(" ")
			d.u(uint64(datalen / 8))
			d.s(" ")
			for i := 0; i < datalen; i += 8 {
				if !lencheck(i + 4) {
					return false
				}
				s := binary.BigEndian.Uint32(b[cp+i:])
				if !lencheck(i + 8) {
					return false
				}
				e := binary.BigEndian.Uint32(b[cp+i+4:])
				if rev {
					s, e = s-thseq, e-thseq
				} else {
					s, e = s-thack, e-thack
				}
				d.s("{")
				d.u(uint64(s))
				d.s(":")
				d.u(uint64(e))
				d.s("}")
			}
		case 6, 7, 11, 12, 13:
			datalen = 4
			if !lencheck(4) {
				return false
			}
			d.s(" ")
			d.u(uint64(binary.BigEndian.Uint32(b[cp:])))
		case 8:
			datalen = 8
			if !lencheck(8) {
				return false
			}
			d.s(" val ")
			d.u(uint64(binary.BigEndian.Uint32(b[cp:])))
			d.s(" ecr ")
			d.u(uint64(binary.BigEndian.Uint32(b[cp+4:])))
		case 19:
			datalen = 16
			if !lencheck(16) {
				return false
			}
			// As a tcpdump built with libcrypto says it without -M.
			d.s(" shared secret not supplied with -M, can't check - ")
			for i := range 16 {
				d.hex(uint64(b[cp+i]), 2)
			}
		case 20:
			datalen = 2
			if !lencheck(2) {
				return false
			}
			d.s(" cap ")
			d.hex(uint64(b[cp]), 2)
			d.s(" id ")
			d.u(uint64(b[cp+1]))
		case 28:
			datalen = 2
			if !lencheck(2) {
				return false
			}
			v := uint(binary.BigEndian.Uint16(b[cp:]))
			d.s(" 0x")
			d.hex(uint64(v), 1)
			if v&1 != 0 {
				v = (v >> 1) * 60
			} else {
				v >>= 1
			}
			d.s(" ")
			d.u(uint64(v))
		case 0, 1, 4:
		default:
			// Unknown options, and the ones decoded only by tcpdump
			// (mptcp, tfo, exp, tcp-ao): their bytes in hex.
			datalen = ln - 2
			if datalen > 0 {
				d.s(" 0x")
			}
			for i := 0; i < datalen; i++ {
				if !lencheck(i + 1) {
					return false
				}
				d.hex(uint64(b[cp+i]), 2)
			}
		}
		cp += datalen
		hl -= datalen
		datalen++
		if opt > 1 {
			datalen++
		}
		if datalen != ln {
			d.s("[len ")
			d.u(uint64(ln))
			d.s("]")
		}
		ch = ','
		if opt == 0 {
			break
		}
	}
	d.s("]")
	return true
}

// tcpPayload is what tcpdump prints of the data of the segment: for the
// ports it decodes, the application protocol (here SSH, HTTP and DNS, in
// tcpdump's order of precedence).
func (d *dec) tcpPayload(sport, dport uint16, b []byte, length int) {
	either := func(p uint16) bool { return sport == p || dport == p }
	switch {
	case either(22):
		d.ssh(b, length)
	case either(80) || either(8080):
		d.s(": ")
		d.http(b, length)
	case either(53):
		d.dns(b, length, true, false)
	}
}
