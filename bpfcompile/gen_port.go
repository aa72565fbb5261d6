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

// portPQToIPProto validates the protocol qualifier of port/portrange (kw,
// named only in the error).
func (g *gen) portPQToIPProto(p pqual, kw aqual) int {
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
func (g *gen) ipFrag() *frag {
	var buf [2]stmt
	return g.not(g.jmpFrag(cbpf.JMP|cbpf.JSET|cbpf.K, 0x1fff, g.loadATo(buf[:0], orLinkPL, 6, cbpf.H)))
}

// portDir combines the source and destination tests of a port.
func (g *gen) portDir(d dqual, a aqual, atom func(off uint32) *frag) *frag {
	switch d {
	case dSrc:
		return atom(0)
	case dDst:
		return atom(2)
	case dAnd:
		t := atom(0)
		return g.and(t, atom(2))
	case dDefault, dOr:
		t := atom(0)
		return g.or(t, atom(2))
	}
	g.errorf("'%s' is not a valid qualifier for '%s'", d, a)
	return nil
}

// port tests a TCP/UDP/SCTP port over IPv4 (proto protoUndef: any of them).
func (g *gen) port(port uint32, proto int, d dqual, a aqual) *frag {
	atom := func(off uint32) *frag { return g.cmp(orTranIPv4, off, cbpf.H, port) }
	if proto == protoUndef && g.portChains[g.off] {
		return g.portEachProto(false, func() *frag { return g.portDir(d, a, atom) })
	}
	return g.portCommon(proto, g.portDir(d, a, atom))
}

// portEachProto tests the ports test makes, over IPv4 (ip6 unset) or
// IPv6, for each of SCTP, TCP and UDP in turn: "(sctp and ports) or (tcp
// and ports) or (udp and ports)", where portCommon makes "(tcp or udp or
// sctp) and ports". The two mean the same, packets cut short included;
// in a chain of ports ("port 1 or port 2 or ..."), on every path of this
// shape the protocol is known, so that the optimizer drops the tests of
// the protocol after the first port and brings the tests of one field
// together, as libpcap 1.10 did (the other shape, libpcap's since,
// repeats them for every port: 431 instructions for 20 ports, 81 so).
func (g *gen) portEachProto(ip6 bool, test func() *frag) *frag {
	one := func(proto uint32) *frag {
		if ip6 {
			return g.and(g.ip6Proto(proto), test())
		}
		b0 := g.and(g.ipProto(proto), g.ipFrag())
		return g.and(b0, test())
	}
	b1 := one(ipprotoTCP)
	b1 = g.or(b1, one(ipprotoUDP))
	b1 = g.or(one(ipprotoSCTP), b1)
	if ip6 {
		return g.and(g.linkProto(ethertypeIPv6), b1)
	}
	return g.and(g.linkProto(ethertypeIP), b1)
}

func (g *gen) portCommon(proto int, b1 *frag) *frag {
	var tmp *frag
	if proto == protoUndef {
		tmp = g.ipProto(ipprotoSCTP)
		tmp = g.or(g.ipProto(ipprotoUDP), tmp)
		tmp = g.or(g.ipProto(ipprotoTCP), tmp)
	} else {
		tmp = g.ipProto(uint32(proto))
	}
	b0 := g.ipFrag()
	b0 = g.and(tmp, b0)
	b1 = g.and(b0, b1)
	return g.and(g.linkProto(ethertypeIP), b1)
}

func (g *gen) port6(port uint32, proto int, d dqual, a aqual) *frag {
	atom := func(off uint32) *frag { return g.cmp(orTranIPv6, off, cbpf.H, port) }
	if proto == protoUndef && g.portChains[g.off] {
		return g.portEachProto(true, func() *frag { return g.portDir(d, a, atom) })
	}
	return g.port6Common(proto, g.portDir(d, a, atom))
}

func (g *gen) port6Common(proto int, b1 *frag) *frag {
	var tmp *frag
	if proto == protoUndef {
		tmp = g.ip6Proto(ipprotoSCTP)
		tmp = g.or(g.ip6Proto(ipprotoUDP), tmp)
		tmp = g.or(g.ip6Proto(ipprotoTCP), tmp)
	} else {
		tmp = g.ip6Proto(uint32(proto))
	}
	b1 = g.and(tmp, b1)
	return g.and(g.linkProto(ethertypeIPv6), b1)
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
	return g.and(b1, b2)
}

func (g *gen) portRange(p1, p2 uint32, proto int, d dqual) *frag {
	atom := func(off uint32) *frag { return g.portRangeAtom(orTranIPv4, off, p1, p2) }
	if proto == protoUndef && g.portChains[g.off] {
		return g.portEachProto(false, func() *frag { return g.portDir(d, aPortrange, atom) })
	}
	return g.portCommon(proto, g.portDir(d, aPortrange, atom))
}

func (g *gen) portRange6(p1, p2 uint32, proto int, d dqual) *frag {
	atom := func(off uint32) *frag { return g.portRangeAtom(orTranIPv6, off, p1, p2) }
	if proto == protoUndef && g.portChains[g.off] {
		return g.portEachProto(true, func() *frag { return g.portDir(d, aPortrange, atom) })
	}
	return g.port6Common(proto, g.portDir(d, aPortrange, atom))
}

// minPortChain is the shortest chain of ports markPortChains marks. The
// two shapes give libpcap master's verdicts alike on every packet but for
// chains: there, libpcap's optimizer moves the source ports' tests of the
// 1.10 shape before the load of the destination port (on a packet cut
// between the two it accepts what the other shape rejects), which is what
// makes the shape short. Two ports ("port 80 or 443") keep master's shape,
// and its verdicts (43 instructions, 1.10's 27); from three on, the
// length wins: master's shape grows by some 20 instructions a port and
// does not fit the kernel from about 170 ports on, 1.10's by 4.
const minPortChain = 3

// markPortChains returns the offsets of the port and portrange primitives
// without a protocol of n that an "or" chain joins to minPortChain-1 others
// or more (nil if there are none).
func markPortChains(n Node) map[int]bool {
	var marks map[int]bool
	var chain []*IDNode
	var leaves func(n Node)
	leaves = func(n Node) {
		if b, ok := n.(*BinaryNode); ok && b.Op == "or" {
			leaves(b.X)
			leaves(b.Y)
			return
		}
		if id, ok := n.(*IDNode); ok && (id.Q.addr == aPort || id.Q.addr == aPortrange) && id.Q.proto == qDefault {
			chain = append(chain, id)
		}
	}
	var walk func(n Node, inOr bool)
	walk = func(n Node, inOr bool) {
		switch n := n.(type) {
		case *BinaryNode:
			if n.Op == "or" && !inOr {
				chain = chain[:0]
				leaves(n)
				if len(chain) >= minPortChain {
					if marks == nil {
						marks = map[int]bool{}
					}
					for _, id := range chain {
						marks[id.Off] = true
					}
				}
			}
			walk(n.X, n.Op == "or")
			walk(n.Y, n.Op == "or")
		case *NotNode:
			walk(n.X, false)
		}
	}
	walk(n, false)
	return marks
}
