package pktsummary

// icmp decodes ICMP: tcpdump reads all it needs before it prints, so a
// truncated message prints nothing of it but the mark.
func (d *dec) icmp(b []byte, length int) {
	d.proto = "icmp"
	typ, code := u8(b, 0), u8(b, 1)
	d.undo = len(d.out) // tcpdump reads all before it prints
	d.s("ICMP ")
	switch typ {
	case 0, 8:
		id, seq := be16(b, 4), be16(b, 6)
		d.s("echo ")
		if typ == 8 {
			d.s("request")
		} else {
			d.s("reply")
		}
		d.s(", id ")
		d.u(uint64(id))
		d.s(", seq ")
		d.u(uint64(seq))
	case 3:
		d.unreach(b, code)
	case 5:
		dst, gw := b[min(24, len(b)):], b[min(4, len(b)):]
		need(b, 24, 4)
		need(b, 4, 4)
		switch code {
		case 0, 1:
			d.s("redirect ")
			d.ip4addr(dst[:4])
			if code == 0 {
				d.s(" to net ")
			} else {
				d.s(" to host ")
			}
		case 2, 3:
			d.s("redirect-tos ")
			d.ip4addr(dst[:4])
			if code == 2 {
				d.s(" to net ")
			} else {
				d.s(" to host ")
			}
		default:
			d.s("redirect-#")
			d.u(uint64(code))
			d.s(" ")
			d.ip4addr(dst[:4])
			d.s(" to ")
		}
		d.ip4addr(gw[:4])
	case 11:
		check(b, 24, 4)
		switch code {
		case 0:
			d.s("time exceeded in-transit")
		case 1:
			d.s("ip reassembly time exceeded")
		default:
			d.s("time exceeded-#")
			d.u(uint64(code))
		}
	case 12:
		if code != 0 {
			d.s("parameter problem - code ")
			d.u(uint64(code))
		} else {
			ptr := u8(b, 4)
			d.s("parameter problem - octet ")
			d.u(uint64(ptr))
		}
	case 18:
		m := be32(b, 8)
		d.s("address mask is 0x")
		d.hex(uint64(m), 8)
	case 13:
		id, seq := be16(b, 4), be16(b, 6)
		d.s("time stamp query id ")
		d.u(uint64(id))
		d.s(" seq ")
		d.u(uint64(seq))
	default:
		switch typ {
		case 4:
			d.s("source quench")
		case 10:
			d.s("router solicitation")
		case 14:
			d.s("time stamp reply")
		case 15:
			d.s("information request")
		case 16:
			d.s("information reply")
		case 17:
			d.s("address mask request")
		case 9:
			d.s("router advertisement") // its addresses are not decoded here
		default:
			d.s("type-#")
			d.u(uint64(typ))
		}
	}
	d.undo = -1
	d.s(", length ")
	d.u(uint64(length))
}

// unreach is the text of a destination unreachable message.
func (d *dec) unreach(b []byte, code byte) {
	const dstOff = 8 + 16 // the original header's destination
	var dst []byte
	if code != 3 {
		need(b, dstOff, 4)
		dst = b[dstOff : dstOff+4]
	}
	// What each code says, before or after the address.
	var pre, post string
	switch code {
	case 0:
		pre, post = "net ", " unreachable"
	case 1:
		pre, post = "host ", " unreachable"
	case 2:
		p := u8(b, 8+9)
		d.ip4addr(dst)
		d.s(" protocol ")
		d.u(uint64(p))
		d.s(" unreachable")
		return
	case 3:
		check(b, 8+9, 1)
		hlen := int(u8(b, 8)&0x0f) * 4
		dport := be16(b, 8+hlen+2)
		p := u8(b, 8+9)
		need(b, dstOff, 4)
		d.ip4addr(b[dstOff : dstOff+4])
		switch p {
		case protoTCP:
			d.s(" tcp port ")
		case protoUDP:
			d.s(" udp port ")
		default:
			d.s(" protocol ")
			d.u(uint64(p))
			d.s(" port ")
		}
		d.u(uint64(dport))
		d.s(" unreachable")
		return
	case 4:
		mtu := be16(b, 6)
		d.ip4addr(dst)
		d.s(" unreachable - need to frag")
		if mtu != 0 {
			d.s(" (mtu ")
			d.u(uint64(mtu))
			d.s(")")
		}
		return
	case 5:
		post = " unreachable - source route failed"
	case 6:
		pre, post = "net ", " unreachable - unknown"
	case 7:
		pre, post = "host ", " unreachable - unknown"
	case 8:
		post = " unreachable - source host isolated"
	case 9:
		pre, post = "net ", " unreachable - admin prohibited"
	case 10:
		pre, post = "host ", " unreachable - admin prohibited"
	case 11:
		pre, post = "net ", " unreachable - tos prohibited"
	case 12:
		pre, post = "host ", " unreachable - tos prohibited"
	case 13:
		pre, post = "host ", " unreachable - admin prohibited filter"
	case 14:
		pre, post = "host ", " unreachable - host precedence violation"
	case 15:
		pre, post = "host ", " unreachable - precedence cutoff"
	default:
		d.ip4addr(dst)
		d.s(" unreachable - #")
		d.u(uint64(code))
		return
	}
	d.s(pre)
	d.ip4addr(dst)
	d.s(post)
}

// icmp6 decodes ICMPv6, printed as it is read (a truncated message shows
// what came before the cut).
func (d *dec) icmp6(b []byte, length int) {
	d.proto = "icmp6"
	if length == 0 {
		d.s("ICMP6, length 0 (invalid)")
		return
	}
	typ := u8(b, 0)
	d.s("ICMP6, ")
	if n := icmp6TypeName(typ); n != "" {
		d.s(n)
	} else {
		d.s("unknown icmp6 type (")
		d.u(uint64(typ))
		d.s(")")
	}
	code := u8(b, 1)
	const oip = 8 // the original packet of an error message
	switch typ {
	case 1:
		d.s(", ")
		switch code {
		case 0:
			d.s("unreachable route")
		case 1:
			d.s(" unreachable prohibited")
		case 2:
			d.s("beyond scope")
		case 3:
			d.s("unreachable address")
		case 4:
			d.s("unreachable port")
		default:
			d.s("unknown unreach code (")
			d.u(uint64(code))
			d.s(")")
		}
		switch code {
		case 1, 3:
			need(b, oip+24, 16)
			d.s(" ")
			d.ip6at(b, oip+24)
		case 2:
			need(b, oip+8, 32)
			d.s(" ")
			d.ip6at(b, oip+24)
			d.s(", source address ")
			d.ip6at(b, oip+8)
		case 4:
			prot, off, ok := upperLayer6(b[min(oip, len(b)):])
			if !ok {
				d.trunc()
				return
			}
			dport := be16(b, oip+off+2)
			need(b, oip+24, 16)
			d.s(", ")
			d.ip6at(b, oip+24)
			switch prot {
			case protoTCP:
				d.s(" tcp port ")
				d.u(uint64(dport))
			case protoUDP:
				d.s(" udp port ")
				d.u(uint64(dport))
			default:
				d.s(" protocol ")
				d.u(uint64(prot))
				d.s(" port ")
				d.u(uint64(dport))
				d.s(" unreachable")
			}
		default:
			return // tcpdump adds a hex dump of the message, not its length
		}
	case 2:
		mtu := be32(b, 4) // read before it prints, as tcpdump does
		d.s(", mtu ")
		d.u(uint64(mtu))
	case 3:
		switch code {
		case 0:
			need(b, oip+24, 16)
			d.s(" for ")
			d.ip6at(b, oip+24)
		case 1:
			d.s(" (reassembly)")
		default:
			d.s(", unknown code (")
			d.u(uint64(code))
			d.s(")")
		}
	case 4:
		need(b, oip+24, 16)
		ptr := be32(b, 4)
		switch code {
		case 0:
			d.s(", erroneous - octet ")
		case 1:
			d.s(", next header - octet ")
		case 2:
			d.s(", option - octet ")
		case 3:
			d.s(", incomplete header chain - octet ")
		default:
			d.s(", code-#")
			d.u(uint64(code))
			ptr = 0
		}
		if code <= 3 {
			d.u(uint64(ptr))
		}
	case 128, 129:
		id, seq := be16(b, 4), be16(b, 6)
		d.s(", id ")
		d.u(uint64(id))
		d.s(", seq ")
		d.u(uint64(seq))
	case 131, 132:
		d.mld(b)
	case 130:
		switch {
		case length == 24:
			d.mld(b)
		case length >= 28:
			d.s(" v2 not decoded")
		default:
			d.s(" unknown-version (len ")
			d.u(uint64(length))
			d.s(") ")
		}
	case 133, 134, 141, 142:
	case 135:
		need(b, 8, 16)
		d.s(", who has ")
		d.ip6at(b, 8)
	case 136:
		need(b, 8, 16)
		d.s(", tgt is ")
		d.ip6at(b, 8)
	case 137:
		need(b, 24, 16)
		d.s(", ")
		d.ip6at(b, 24)
		need(b, 8, 16)
		d.s(" to ")
		d.ip6at(b, 8)
	case 143:
		if length < 8 {
			d.s(" [invalid len ")
			d.u(uint64(length))
			d.s("]")
		} else {
			n := be16(b, 6)
			d.s(", ")
			d.u(uint64(n))
			d.s(" group record(s)")
		}
	case 144:
		id := be16(b, 4)
		d.s(", id 0x")
		d.hex(uint64(id), 4)
	default:
		// Router renumbering, node information, mobility, RPL and
		// unknown types: their contents are not decoded here.
		d.s(", length ")
		d.u(uint64(length))
		return
	}
	d.s(", length ")
	d.u(uint64(length))
}

// mld prints an MLDv1 message's delay and address, when all of it was
// captured.
func (d *dec) mld(b []byte) {
	if len(b) < 24 {
		return
	}
	d.s("max resp delay: ")
	d.u(uint64(be16(b, 4)))
	d.s(" addr: ")
	d.ip6at(b, 8)
}

func (d *dec) ip6at(b []byte, off int) {
	need(b, off, 16)
	d.ipaddr(b[off : off+16])
}

// upperLayer6 finds the TCP or UDP header in the IPv6 packet of an ICMPv6
// error: its protocol and offset, false when it was not captured.
func upperLayer6(b []byte) (proto byte, off int, ok bool) {
	if len(b) < 7 {
		return 0, 0, false
	}
	nh := b[6]
	off, hlen := 0, 40
	for off < len(b) {
		off += hlen
		switch nh {
		case protoTCP, protoUDP:
			return nh, off, off+4 <= len(b)
		case protoHopOpts, protoDstOpts, protoRouting:
			if off+2 > len(b) {
				return 0, 0, false
			}
			nh, hlen = b[off], (int(b[off+1])+1)*8
		case protoFragment:
			if off+4 > len(b) || (uint16(b[off+2])<<8|uint16(b[off+3]))&0xfff8 != 0 {
				return 0, 0, false
			}
			nh, hlen = b[off], 8
		case 51: // AH
			if off+2 > len(b) {
				return 0, 0, false
			}
			nh, hlen = b[off], (int(b[off+1])+2)*4
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// icmp6TypeName is tcpdump's name of an ICMPv6 type.
func icmp6TypeName(t byte) string {
	switch t {
	case 1:
		return "destination unreachable"
	case 2:
		return "packet too big"
	case 3:
		return "time exceeded in-transit"
	case 4:
		return "parameter problem"
	case 128:
		return "echo request"
	case 129:
		return "echo reply"
	case 130:
		return "multicast listener query"
	case 131:
		return "multicast listener report"
	case 132:
		return "multicast listener done"
	case 133:
		return "router solicitation"
	case 134:
		return "router advertisement"
	case 135:
		return "neighbor solicitation"
	case 136:
		return "neighbor advertisement"
	case 137:
		return "redirect"
	case 138:
		return "router renumbering"
	case 139:
		return "node information query"
	case 140:
		return "node information reply"
	case 141:
		return "inverse neighbor solicitation"
	case 142:
		return "inverse neighbor advertisement"
	case 143:
		return "multicast listener report v2"
	case 144:
		return "ha discovery request"
	case 145:
		return "ha discovery reply"
	case 146:
		return "mobile router solicitation"
	case 147:
		return "mobile router advertisement"
	case 155:
		return "RPL"
	case 200:
		return "mtrace response"
	case 201:
		return "mtrace message"
	}
	return ""
}
