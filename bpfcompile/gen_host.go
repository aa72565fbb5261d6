package bpfcompile

import (
	"bytes"
	"context"
	"net"
	"sort"
	"time"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// Field offsets in the network-layer headers.
const (
	ipv4SrcOff = 12
	ipv4DstOff = 16
	arpSrcOff  = 14
	arpDstOff  = 24
	ipv6SrcOff = 8
	ipv6DstOff = 24
)

// checkNonWLANDir rejects the 802.11 direction qualifiers.
func (g *gen) checkNonWLANDir(d dqual) {
	switch d {
	case dSrc, dDst, dAnd, dOr, dDefault:
		return
	}
	g.errorf("'%s' is valid for 802.11 syntax only", d)
}

// hostop tests the IPv4 address field at srcOff/dstOff against addr/mask.
func (g *gen) hostop(addr, mask uint32, d dqual, srcOff, dstOff uint32) *frag {
	switch d {
	case dSrc:
		return g.mcmp(orLinkPL, srcOff, cbpf.W, addr, mask)
	case dDst:
		return g.mcmp(orLinkPL, dstOff, cbpf.W, addr, mask)
	case dAnd:
		return g.and(g.hostop(addr, mask, dSrc, srcOff, dstOff), g.hostop(addr, mask, dDst, srcOff, dstOff))
	}
	return g.or(g.hostop(addr, mask, dSrc, srcOff, dstOff), g.hostop(addr, mask, dDst, srcOff, dstOff))
}

func (g *gen) hostop6(addr, mask [16]byte, d dqual) *frag {
	var off uint32
	switch d {
	case dSrc:
		off = ipv6SrcOff
	case dDst:
		off = ipv6DstOff
	case dAnd:
		return g.and(g.hostop6(addr, mask, dSrc), g.hostop6(addr, mask, dDst))
	default:
		return g.or(g.hostop6(addr, mask, dSrc), g.hostop6(addr, mask, dDst))
	}
	b1 := g.genTrue()
	for i := 3; i >= 0; i-- {
		a := beUint32(addr[4*i:])
		m := beUint32(mask[4*i:])
		b0 := g.mcmp(orLinkPL, off+4*uint32(i), cbpf.W, a, m)
		b1 = g.and(b0, b1)
	}
	return b1
}

func beUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// host tests IPv4 addresses for the protocols ip, arp and rarp.
func (g *gen) host(addrs, masks []uint32, p pqual, d dqual, negate bool, context string) *frag {
	g.checkNonWLANDir(d)
	var llproto, srcOff, dstOff uint32
	switch p {
	case qDefault:
		b0 := g.host(addrs, masks, qIP, d, negate, context)
		if g.labelDepth == 0 {
			b1 := g.host(addrs, masks, qARP, d, negate, context)
			b1 = g.or(b0, b1)
			b0 = g.host(addrs, masks, qRARP, d, negate, context)
			b0 = g.or(b1, b0)
		}
		return b0
	case qIP:
		llproto, srcOff, dstOff = ethertypeIP, ipv4SrcOff, ipv4DstOff
	case qRARP:
		llproto, srcOff, dstOff = ethertypeRARP, arpSrcOff, arpDstOff
	case qARP:
		llproto, srcOff, dstOff = ethertypeARP, arpSrcOff, arpDstOff
	default:
		g.errorf("'%s' is not a valid qualifier for '%s'", p, context)
	}
	b0 := g.linkProto(llproto)
	if b0.m == isFalse {
		return b0
	}
	b1 := g.genFalse()
	for i := range addrs {
		b1 = g.or(b1, g.hostop(addrs[i], masks[i], d, srcOff, dstOff))
	}
	if negate {
		b1 = g.not(b1)
	}
	return g.and(b0, b1)
}

func (g *gen) host6(addrs, masks [][16]byte, p pqual, d dqual, negate bool, context string) *frag {
	g.checkNonWLANDir(d)
	if p != qDefault && p != qIPv6 {
		g.errorf("'%s' is not a valid qualifier for '%s'", p, context)
	}
	link := g.linkProto(ethertypeIPv6)
	h := g.genFalse()
	for i := range addrs {
		h = g.or(h, g.hostop6(addrs[i], masks[i], d))
	}
	if negate {
		h = g.not(h)
	}
	return g.and(link, h)
}

// host46ByName tests every address of a host name: IPv4 ones in ascending
// order, then IPv6 ones in ascending order.
func (g *gen) host46ByName(name string, p4, p6 pqual, d dqual, negate bool) *frag {
	const what = "host <Internet hostname>"
	ctx, cancel := context.WithTimeout(context.Background(), hostLookupTimeout)
	ips, err := g.res.LookupHost(ctx, name)
	cancel()
	if err != nil || len(ips) == 0 {
		g.errorf("unknown host '%s'", name)
	}
	var v4 []uint32
	var v6 [][16]byte
	for _, ip := range ips {
		if ip4 := ip.To4(); ip4 != nil {
			v4 = append(v4, beUint32(ip4))
		} else if len(ip) == net.IPv6len {
			var a [16]byte
			copy(a[:], ip)
			v6 = append(v6, a)
		}
	}
	sort.Slice(v4, func(i, j int) bool { return v4[i] < v4[j] })
	sort.Slice(v6, func(i, j int) bool { return bytes.Compare(v6[i][:], v6[j][:]) < 0 })
	var ret *frag
	if p4 != qIPv6 && len(v4) > 0 {
		masks := make([]uint32, len(v4))
		for i := range masks {
			masks[i] = 0xffffffff
		}
		ret = g.host(v4, masks, p4, d, negate, what)
	}
	if p6 != qARP && p6 != qIP && p6 != qRARP && len(v6) > 0 {
		masks := make([][16]byte, len(v6))
		for i := range masks {
			for j := range masks[i] {
				masks[i][j] = 0xff
			}
		}
		h6 := g.host6(v6, masks, p6, d, negate, what)
		if ret != nil {
			ret = g.or(ret, h6)
		} else {
			ret = h6
		}
	}
	if ret == nil {
		if p4 == qDefault {
			g.errorf("unknown host '%s'", name)
		}
		g.errorf("unknown host '%s' for specified address family", name)
	}
	return ret
}

// hostLookupTimeout bounds a host name lookup (libpcap's test suite allows
// 10 seconds for a name that does not exist).
const hostLookupTimeout = 10 * time.Second

// isMAC48 reports whether the current link layer has MAC-48 addresses.
func (g *gen) isMAC48() bool { return g.ll.mac == mac48 || g.ll.mac == macWLAN }

// mac48host tests a MAC-48 address in the link-layer header.
func (g *gen) mac48host(eaddr []byte, d dqual, keyword string) *frag {
	var b1 *frag
	switch g.ll.mac {
	case macWLAN:
		return g.wlanHost(eaddr, d)
	case mac48:
		if g.isEther() {
			b1 = g.prevLinkHdrCheck()
		}
	default:
		g.failKwOnDLT(keyword)
	}
	g.checkNonWLANDir(d)
	srcOff, dstOff := g.ll.srcOff, g.ll.dstOff
	var b0 *frag
	switch d {
	case dSrc:
		b0 = g.bcmp(orLinkHdr, srcOff, eaddr)
	case dDst:
		b0 = g.bcmp(orLinkHdr, dstOff, eaddr)
	case dAnd:
		t := g.bcmp(orLinkHdr, srcOff, eaddr)
		b0 = g.and(t, g.bcmp(orLinkHdr, dstOff, eaddr))
	default:
		t := g.bcmp(orLinkHdr, srcOff, eaddr)
		b0 = g.or(t, g.bcmp(orLinkHdr, dstOff, eaddr))
	}
	if b1 != nil {
		return g.and(b1, b0)
	}
	return b0
}

func (g *gen) mac48hostByName(name string, d dqual, context string) *frag {
	if !g.isMAC48() {
		g.failKwOnDLT(context)
	}
	ea, err := g.res.LookupEther(name)
	if err != nil || len(ea) != 6 {
		g.errorf("unknown Ethernet-like host '%s'", name)
	}
	return g.mac48host(ea, d, context)
}

// mac8host tests a MAC-8 address (ARCnet, BACnet MS/TP).
func (g *gen) mac8host(a uint32, d dqual, context string) *frag {
	if g.ll.mac != mac8 {
		g.failKwOnDLT(context)
	}
	srcOff, dstOff := g.ll.srcOff, g.ll.dstOff
	switch d {
	case dSrc:
		return g.cmp(orLinkHdr, srcOff, cbpf.B, a)
	case dDst:
		return g.cmp(orLinkHdr, dstOff, cbpf.B, a)
	case dAnd:
		src := g.cmp(orLinkHdr, srcOff, cbpf.B, a)
		return g.and(src, g.cmp(orLinkHdr, dstOff, cbpf.B, a))
	}
	src := g.cmp(orLinkHdr, srcOff, cbpf.B, a)
	return g.or(src, g.cmp(orLinkHdr, dstOff, cbpf.B, a))
}

// dnhostop tests a DECnet address in the long and short header forms.
func (g *gen) dnhostop(addr uint32, d dqual) *frag {
	var offSH, offLH uint32
	switch d {
	case dDst:
		offSH, offLH = 1, 7
	case dSrc:
		offSH, offLH = 3, 15
	case dAnd:
		return g.and(g.dnhostop(addr, dSrc), g.dnhostop(addr, dDst))
	default:
		return g.or(g.dnhostop(addr, dSrc), g.dnhostop(addr, dDst))
	}
	sw := (addr&0xff)<<8 | addr>>8&0xff
	tmp := g.mcmp(orLinkPL, 2, cbpf.H, 0x8106, 0xff07)
	b1 := g.cmp(orLinkPL, 2+1+offLH, cbpf.H, sw)
	b1 = g.and(tmp, b1)
	tmp = g.mcmp(orLinkPL, 2, cbpf.B, 0x06, 0x07)
	b2 := g.cmp(orLinkPL, 2+offLH, cbpf.H, sw)
	b2 = g.and(tmp, b2)
	b1 = g.or(b2, b1)
	if d == dDst {
		b2 = g.mcmp(orLinkPL, 2, cbpf.W, 0x81020000|sw, 0xff07ffff)
	} else {
		tmp = g.mcmp(orLinkPL, 2, cbpf.H, 0x8102, 0xff07)
		b2 = g.cmp(orLinkPL, 2+1+offSH, cbpf.H, sw)
		b2 = g.and(tmp, b2)
	}
	b1 = g.or(b2, b1)
	if d == dDst {
		b2 = g.mcmp(orLinkPL, 2, cbpf.W, 0x02000000|sw<<8, 0x07ffff00)
	} else {
		tmp = g.mcmp(orLinkPL, 2, cbpf.B, 0x02, 0x07)
		b2 = g.cmp(orLinkPL, 2+offSH, cbpf.H, sw)
		b2 = g.and(tmp, b2)
	}
	return g.or(b2, b1)
}

// dnhost tests a DECnet address "area.node".
func (g *gen) dnhost(s string, isNum bool, v uint32, q qual) *frag {
	g.checkNonWLANDir(q.dir)
	if q.addr != aDefault && q.addr != aHost {
		g.errorf("'decnet' is not a valid qualifier for '%s'", q.addr)
	}
	if isNum {
		g.errorf("invalid DECnet address '%d'", v)
	}
	addr, ok := parseDECnet(s)
	if !ok {
		g.errorf("invalid DECnet address '%s'", s)
	}
	return g.and(g.linkProto(ethertypeDN), g.dnhostop(uint32(addr), q.dir))
}

// parseDECnet parses "area.node" (area 1..63 bits, node 10 bits).
func parseDECnet(s string) (uint16, bool) {
	var area, node uint32
	state := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch state {
		case 0, 1:
			if isDigit(c) {
				area = area*10 + uint32(c-'0')
				if area > 63 {
					return 0, false
				}
				state = 1
			} else if c == '.' && state == 1 {
				state = 2
			} else {
				return 0, false
			}
		case 2, 3:
			if isDigit(c) {
				node = node*10 + uint32(c-'0')
				if node > 1023 {
					return 0, false
				}
				state = 3
			} else {
				return 0, false
			}
		}
	}
	if state != 3 {
		return 0, false
	}
	return uint16(area<<10 | node), true
}

// gateway tests packets whose link-layer address is the host's but whose
// IP address is not: packets through the gateway.
func (g *gen) gateway(name string, p pqual) *frag {
	switch p {
	case qDefault, qIP, qARP, qRARP:
	default:
		g.errorf("'%s' is not a valid qualifier for 'gateway'", p)
	}
	if g.labelDepth > 0 {
		g.errorf("'gateway' cannot be used within MPLS")
	}
	if g.isEncap {
		g.errorf("'gateway' cannot be used within VXLAN or Geneve")
	}
	b0 := g.mac48hostByName(name, dOr, "gateway")
	b1 := g.host46ByName(name, p, qIP, dOr, true)
	return g.and(b0, b1)
}
