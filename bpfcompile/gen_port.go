package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// IP protocol numbers.
const (
	ipprotoHopopts  = 0
	ipprotoICMP     = 1
	ipprotoIGMP     = 2
	ipprotoTCP      = 6
	ipprotoIGRP     = 9
	ipprotoUDP      = 17
	ipprotoRouting  = 43
	ipprotoFragment = 44
	ipprotoESP      = 50
	ipprotoAH       = 51
	ipprotoICMPv6   = 58
	ipprotoNone     = 59
	ipprotoDstopts  = 60
	ipprotoPIM      = 103
	ipprotoVRRP     = 112
	ipprotoCARP     = 112
	ipprotoSCTP     = 132
	protoUndef      = -1
)

// portPQToIPProto validates the protocol qualifier of port/portrange.
func (g *gen) portPQToIPProto(p pqual, kw string) int {
	switch p {
	case qUDP:
		return ipprotoUDP
	case qTCP:
		return ipprotoTCP
	case qSCTP:
		return ipprotoSCTP
	case qDefault:
		return protoUndef
	}
	g.errorf("'%s' is not a valid qualifier for '%s'", p, kw)
	return 0
}

func (g *gen) ipProto(p uint32) *frag  { return g.cmp(orLinkPL, 9, cbpf.B, p) }
func (g *gen) ip6Proto(p uint32) *frag { return g.cmp(orLinkPL, 6, cbpf.B, p) }

// ipFrag is true for an IPv4 packet that is not a non-first fragment.
func (g *gen) ipFrag() *frag { return unsetBits(0x1fff, g.loadA(orLinkPL, 6, cbpf.H)) }

// portDir combines the source and destination tests of a port.
func (g *gen) portDir(d dqual, a aqual, atom func(off uint32) *frag) *frag {
	switch d {
	case dSrc:
		return atom(0)
	case dDst:
		return atom(2)
	case dAnd:
		t := atom(0)
		return and(t, atom(2))
	case dDefault, dOr:
		t := atom(0)
		return or(t, atom(2))
	}
	g.errorf("'%s' is not a valid qualifier for '%s'", d, a)
	return nil
}

// port tests a TCP/UDP/SCTP port over IPv4 (proto protoUndef: any of them).
func (g *gen) port(port uint32, proto int, d dqual, a aqual) *frag {
	b1 := g.portDir(d, a, func(off uint32) *frag { return g.cmp(orTranIPv4, off, cbpf.H, port) })
	return g.portCommon(proto, b1)
}

func (g *gen) portCommon(proto int, b1 *frag) *frag {
	var tmp *frag
	if proto == protoUndef {
		tmp = g.ipProto(ipprotoSCTP)
		tmp = or(g.ipProto(ipprotoUDP), tmp)
		tmp = or(g.ipProto(ipprotoTCP), tmp)
	} else {
		tmp = g.ipProto(uint32(proto))
	}
	b0 := g.ipFrag()
	b0 = and(tmp, b0)
	b1 = and(b0, b1)
	return and(g.linkProto(ethertypeIP), b1)
}

func (g *gen) port6(port uint32, proto int, d dqual, a aqual) *frag {
	b1 := g.portDir(d, a, func(off uint32) *frag { return g.cmp(orTranIPv6, off, cbpf.H, port) })
	return g.port6Common(proto, b1)
}

func (g *gen) port6Common(proto int, b1 *frag) *frag {
	var tmp *frag
	if proto == protoUndef {
		tmp = g.ip6Proto(ipprotoSCTP)
		tmp = or(g.ip6Proto(ipprotoUDP), tmp)
		tmp = or(g.ip6Proto(ipprotoTCP), tmp)
	} else {
		tmp = g.ip6Proto(uint32(proto))
	}
	b1 = and(tmp, b1)
	return and(g.linkProto(ethertypeIPv6), b1)
}

func (g *gen) portRangeAtom(rel offrel, off, v1, v2 uint32) *frag {
	if v1 == v2 {
		return g.cmp(rel, off, cbpf.H, v1)
	}
	lo, hi := v1, v2
	if lo > hi {
		lo, hi = hi, lo
	}
	b1 := g.cmpGE(rel, off, cbpf.H, lo)
	b2 := g.cmpLE(rel, off, cbpf.H, hi)
	return and(b1, b2)
}

func (g *gen) portRange(p1, p2 uint32, proto int, d dqual) *frag {
	b1 := g.portDir(d, aPortrange, func(off uint32) *frag { return g.portRangeAtom(orTranIPv4, off, p1, p2) })
	return g.portCommon(proto, b1)
}

func (g *gen) portRange6(p1, p2 uint32, proto int, d dqual) *frag {
	b1 := g.portDir(d, aPortrange, func(off uint32) *frag { return g.portRangeAtom(orTranIPv6, off, p1, p2) })
	return g.port6Common(proto, b1)
}
