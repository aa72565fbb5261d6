package pktsummary

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers the printer decodes.
const (
	protoHopOpts  = 0
	protoICMP     = 1
	protoIGMP     = 2
	protoIPIP     = 4
	protoTCP      = 6
	protoUDP      = 17
	protoIPv6     = 41
	protoRouting  = 43
	protoFragment = 44
	protoESP      = 50
	protoICMPv6   = 58
	protoNone     = 59
	protoDstOpts  = 60
	protoSCTP     = 132
	protoDCCP     = 33
)

// maxDepth bounds IP-in-IP nesting, so that a crafted packet cannot make
// the printer recurse without end.
const maxDepth = 8

// ipHdr is what the transport layer needs of its IP header: the addresses
// (4 or 16 bytes) and whether they precede the ports (the protocol
// follows the IP header directly).
type ipHdr struct {
	src, dst []byte
	direct   bool
}

func (d *dec) ip4addr(a []byte) {
	d.out = netip.AddrFrom4([4]byte(a)).AppendTo(d.out)
}

// ipaddr appends an IPv4 or IPv6 address as tcpdump -n prints it (for
// IPv6 inet_ntop's form, which writes the IPv4 of "::a.b.c.d" and
// "::ffff:a.b.c.d" in dotted quads).
func (d *dec) ipaddr(a []byte) {
	if len(a) == 4 {
		d.ip4addr(a)
		return
	}
	if allZero(a[:10]) && (a[10] == 0 && a[11] == 0 && (a[12] != 0 || a[13] != 0)) {
		d.s("::")
		d.ip4addr(a[12:])
		return
	}
	d.out = netip.AddrFrom16([16]byte(a)).AppendTo(d.out)
}

// addrs prints "src > dst: ".
func (d *dec) addrs(h *ipHdr) {
	d.ipaddr(h.src)
	d.s(" > ")
	d.ipaddr(h.dst)
	d.s(": ")
}

// ip4 decodes an IPv4 packet of length bytes (as the layer below says).
func (d *dec) ip4(b []byte, length int) {
	d.proto = "ip"
	if v := u8(b, 0) >> 4; v != 4 {
		if v == 6 {
			d.s("IP6, wrong link-layer encapsulation")
		} else {
			d.s("IP")
			d.u(uint64(v))
		}
		d.s(" (invalid)")
		return
	}
	if !d.p.opts.LinkHeader { // -e said it
		d.s("IP ")
	}
	check(b, 0, 20)
	if length < 20 {
		d.s("truncated-ip ")
		d.u(uint64(max(length, 0)))
		return
	}
	hlen := int(b[0]&0x0f) * 4
	if hlen < 20 {
		d.s("bad-hlen ")
		d.u(uint64(hlen))
		return
	}
	tot := int(binary.BigEndian.Uint16(b[2:]))
	if length < tot {
		d.s("truncated-ip - ")
		d.u(uint64(tot - length))
		d.s(" bytes missing! ")
	}
	if tot < hlen {
		d.s("bad-len ")
		d.u(uint64(tot))
		return
	}
	if len(b) > tot {
		b = b[:tot] // tcpdump reads no further than the IP length says
	}
	h := ipHdr{src: b[12:16], dst: b[16:20], direct: true}
	off := binary.BigEndian.Uint16(b[6:])
	proto := b[9]
	if off&0x1fff != 0 {
		d.ipaddr(h.src)
		d.s(" > ")
		d.ipaddr(h.dst)
		d.s(": ip-proto-")
		d.u(uint64(proto))
		return
	}
	if proto != protoTCP && proto != protoUDP && proto != protoSCTP && proto != protoDCCP {
		d.addrs(&h)
	}
	d.needHeader(b, hlen)
	d.demux(&h, proto, b[hlen:], tot-hlen, 4, off&0x2000 != 0)
}

// ip6 decodes an IPv6 packet and its extension headers.
func (d *dec) ip6(b []byte, length int) {
	d.proto = "ip6"
	check(b, 0, 40)
	if length < 40 {
		d.s("truncated-ip6 ")
		d.u(uint64(max(length, 0)))
		return
	}
	if !d.p.opts.LinkHeader {
		d.s("IP6 ")
	}
	if b[0]>>4 != 6 {
		d.s("version error: ")
		d.u(uint64(b[0] >> 4))
		d.s(" != 6")
		return
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	var tot int
	if plen != 0 {
		tot = plen + 40
		if length < tot {
			d.s("truncated-ip6 - ")
			d.u(uint64(tot - length))
			d.s(" bytes missing!")
		}
	} else {
		tot = length + 40
	}
	if len(b) > tot {
		b = b[:tot]
	}
	h := ipHdr{src: b[8:24], dst: b[24:40]}
	nh := b[6]
	prev := -1
	foundExt, foundHBH, jumbo, fragmented := false, false, false, false
	jumboLen := 0
	pos, advance, rest := 0, 40, tot
	for pos < len(b) && advance > 0 {
		if rest < advance {
			d.trunc()
			return
		}
		pos += advance
		rest -= advance
		cp := b[pos:]
		if pos == 40 {
			if nh != protoTCP && nh != protoUDP && nh != protoDCCP && nh != protoSCTP {
				d.addrs(&h)
			} else {
				h.direct = true
			}
		}
		switch nh {
		case protoHopOpts:
			if foundHBH {
				d.s("[The Hop-by-Hop Options header was already found] (invalid)")
				return
			}
			if prev != -1 {
				d.s("[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)")
				return
			}
			d.proto = "hbhopt"
			n := (int(u8(cp, 1)) + 1) * 8
			check(cp, 0, n)
			d.s("HBH ")
			var ok bool
			if ok, jumbo, jumboLen = hbhOptions(cp[2:n]); !ok {
				d.trunc()
				return
			}
			if plen == 0 && !jumbo {
				d.s("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)")
				return
			}
			advance, foundExt, foundHBH = n, true, true
			nh = cp[0]
		case protoDstOpts:
			d.proto = "dstopt"
			n := (int(u8(cp, 1)) + 1) * 8
			check(cp, 0, n)
			d.s("DSTOPT ")
			advance, foundExt = n, true
			nh = cp[0]
		case protoFragment:
			d.proto = "frag6"
			offlg := be16(cp, 2)
			d.s("frag (")
			d.u(uint64(offlg & 0xfff8))
			d.s("|")
			d.u(uint64(40 + plen - pos - 8))
			d.s(")")
			if offlg&0xfff8 != 0 {
				return
			}
			d.s(" ")
			if len(b) <= pos+8 {
				return
			}
			advance, foundExt, fragmented = 8, true, true
			nh = u8(cp, 0)
		case protoRouting, 135, 62:
			// Routing and mobility headers: not decoded here.
			d.proto = "ip6"
			if nh == protoRouting {
				d.s("RT6 ")
			} else {
				d.s("mobility: ")
			}
			d.s("not decoded")
			return
		default:
			n := rest
			if jumbo {
				n = jumboLen + 40
				if n < pos {
					d.trunc()
					return
				}
				if length < n {
					d.s("truncated-ip6 - ")
					d.u(uint64(n - length))
					d.s(" bytes missing!")
				}
				if len(b) > n {
					b = b[:n]
				}
				n -= pos
			} else if plen == 0 {
				if foundExt {
					d.trunc()
					return
				}
				b, n = b[:min(len(b), 40)], 0
			}
			d.demux(&h, nh, b[min(pos, len(b)):], n, 6, fragmented)
			return
		}
		prev = int(nh)
		d.proto = "ip6"
	}
}

// hbhOptions walks the options of a hop-by-hop header: false when they
// are malformed; a jumbo payload option's length.
func hbhOptions(b []byte) (ok, jumbo bool, jumboLen int) {
	for i := 0; i < len(b); {
		if b[i] == 0 { // Pad1
			i++
			continue
		}
		if len(b)-i < 2 {
			return false, jumbo, jumboLen
		}
		n := int(b[i+1]) + 2
		if n > len(b)-i {
			return false, jumbo, jumboLen
		}
		switch b[i] {
		case 1: // PadN
		case 0xc2: // jumbo payload
			if n != 6 {
				return false, jumbo, jumboLen
			}
			jumbo, jumboLen = true, int(binary.BigEndian.Uint32(b[i+2:]))
		}
		i += n
	}
	return true, jumbo, jumboLen
}

// demux decodes the payload of IP protocol proto, length bytes long.
func (d *dec) demux(h *ipHdr, proto byte, b []byte, length, ver int, fragmented bool) {
	switch proto {
	case protoTCP:
		d.tcp(h, b, length, fragmented)
	case protoUDP:
		d.udp(h, b, length, fragmented)
	case protoICMP:
		if ver != 4 {
			d.s("[ICMP requires IPv4] (invalid)")
			return
		}
		d.icmp(b, length)
	case protoICMPv6:
		if ver != 6 {
			d.s("[ICMPv6 requires IPv6] (invalid)")
			return
		}
		d.icmp6(b, length)
	case protoESP:
		d.proto = "esp"
		if len(b) <= 8 {
			d.trunc()
			return
		}
		spi, seq := be32(b, 0), be32(b, 4)
		d.s("ESP(spi=0x")
		d.hex(uint64(spi), 8)
		d.s(",seq=0x")
		d.hex(uint64(seq), 1)
		d.s("), length ")
		d.u(uint64(length))
	case protoNone:
		d.s("no next header")
	case protoIPIP, protoIPv6:
		if d.depth >= maxDepth {
			d.s("IP in IP nested too deep")
			return
		}
		d.depth++
		if proto == protoIPIP {
			d.ip4(b, length)
		} else {
			d.ip6(b, length)
		}
		d.depth--
	default:
		d.s(" ip-proto-")
		d.u(uint64(proto))
		d.s(" ")
		d.u(uint64(length))
	}
}

// needHeader ends the line as tcpdump does when fewer bytes than the
// header's own length (hlen) were captured.
func (d *dec) needHeader(b []byte, hlen int) {
	if len(b) < hlen {
		d.s(" [remaining caplen(")
		d.u(uint64(len(b)))
		d.s(") < header length(")
		d.u(uint64(hlen))
		d.s(")]")
		panic(bailout{})
	}
}
