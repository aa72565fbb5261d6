package bpfcompile

import (
	"strings"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// genOther generates the keyword primitives.
func (g *gen) genOther(n *OtherNode) *frag {
	switch n.Kind {
	case "broadcast":
		return g.broadcast(n.Proto)
	case "multicast":
		return g.multicast(n.Proto)
	case "less":
		return g.not(g.jmpFrag(cbpf.JMP|cbpf.JGT|cbpf.K, n.Num, []stmt{{code: cbpf.LD | cbpf.LEN | cbpf.W}}))
	case "greater":
		return g.jmpFrag(cbpf.JMP|cbpf.JGE|cbpf.K, n.Num, []stmt{{code: cbpf.LD | cbpf.LEN | cbpf.W}})
	case "byte":
		return g.byteop(n.Op, n.Num, n.Num2)
	case "inbound", "outbound":
		return g.inOut(n.Kind == "outbound")
	case "ifindex":
		return g.ifindex(n.Num)
	case "vlan":
		return g.vlan(n.Num, n.HasNum)
	case "mpls":
		return g.mpls(n.Num, n.HasNum)
	case "pppoed":
		return g.pppoed()
	case "pppoes":
		return g.pppoes(n.Num, n.HasNum)
	case "geneve":
		return g.geneve(n.Num, n.HasNum)
	case "vxlan":
		return g.vxlan(n.Num, n.HasNum)
	case "llc":
		return g.llc(n.Name)
	case "on", "ifname", "rset", "ruleset", "rnr", "rulenum", "srnr", "subrulenum", "reason", "action":
		return g.pfKeyword(n)
	case "type", "subtype":
		return g.wlanType(n)
	case "dir", "direction":
		return g.wlanDir(n.Name)
	case "lane", "metac", "bcc", "oamf4ec", "oamf4sc", "sc", "ilmic", "oam", "oamf4",
		"connectmsg", "metaconnect":
		return g.atmKeyword(n.Kind)
	case "vpi", "vci":
		return g.fieldValues(n, func(v uint32, jtype uint16, reverse bool) *frag {
			return g.atmField(n.Kind, v, jtype, reverse)
		})
	case "fisu", "lssu", "lsu", "msu", "hfisu", "hlssu", "hmsu":
		return g.ss7Type(n.Kind)
	case "sio", "opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls":
		return g.fieldValues(n, func(v uint32, jtype uint16, reverse bool) *frag {
			return g.ss7Field(n.Kind, v, jtype, reverse)
		})
	}
	g.errorf("internal error: keyword %q", n.Kind)
	return nil
}

var ethBroadcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func (g *gen) broadcast(p pqual) *frag {
	switch p {
	case qDefault, qLink:
		if g.ll.mac == mac8 {
			return g.mac8host(uint32(g.ll.bcast8), dDst, "broadcast")
		}
		return g.mac48host(ethBroadcast, dDst, "broadcast")
	case qIP:
		if g.opts.Netmask == NetmaskUnknown {
			g.errorf("netmask not known, so 'ip broadcast' not supported")
		}
		b0 := g.linkProto(ethertypeIP)
		hostmask := ^g.opts.Netmask
		b1 := g.mcmp(orLinkPL, ipv4DstOff, cbpf.W, 0, hostmask)
		b2 := g.mcmp(orLinkPL, ipv4DstOff, cbpf.W, hostmask, hostmask)
		return g.and(b0, g.or(b1, b2))
	}
	g.errorf("'%s' is not a valid qualifier for 'broadcast'", p)
	return nil
}

func (g *gen) multicast(p pqual) *frag {
	switch p {
	case qDefault, qLink:
		switch {
		case g.ll.mac == mac8 && g.ll.mcast8:
			// ARCnet multicast is broadcast.
			return g.mac8host(uint32(g.ll.bcast8), dDst, "multicast")
		case g.ll.mac == macWLAN:
			return g.wlanMulticast()
		case g.isEther():
			b1 := g.prevLinkHdrCheck()
			b0 := g.setBits(1, g.loadA(orLinkHdr, g.ll.mcastOff, cbpf.B))
			if b1 != nil {
				return g.and(b1, b0)
			}
			return b0
		case g.ll.mac == mac48:
			return g.setBits(1, g.loadA(orLinkHdr, g.ll.mcastOff, cbpf.B))
		}
		g.failKwOnDLT("multicast")
	case qIP:
		b0 := g.linkProto(ethertypeIP)
		b1 := g.mcmp(orLinkPL, ipv4DstOff, cbpf.B, 0xe0, 0xf0)
		return g.and(b0, b1)
	case qIPv6:
		b0 := g.linkProto(ethertypeIPv6)
		b1 := g.cmp(orLinkPL, ipv6DstOff, cbpf.B, 255)
		return g.and(b0, b1)
	}
	g.errorf("'%s' is not a valid qualifier for 'multicast'", p)
	return nil
}

func (g *gen) byteop(op string, idx, val uint32) *frag {
	g.assertMax("byte argument", val, 0xff)
	switch op {
	case "=":
		return g.cmp(orLinkHdr, idx, cbpf.B, val)
	case "<":
		return g.cmpLT(orLinkHdr, idx, cbpf.B, val)
	case ">":
		return g.cmpGT(orLinkHdr, idx, cbpf.B, val)
	}
	alu := uint16(cbpf.OR)
	if op == "&" {
		alu = cbpf.AND
	}
	s := append(g.loadA(orLinkHdr, idx, cbpf.B), stmt{code: cbpf.ALU | alu | cbpf.K, k: val})
	return g.not(g.jmpFrag(cbpf.JMP|cbpf.JEQ|cbpf.K, 0, s))
}

const (
	sllOutgoing    = 4
	packetOutgoing = 4
)

// inOut tests the direction of a packet: where the link-layer header
// records it, and otherwise in the packet type of a live Linux capture.
func (g *gen) inOut(outbound bool) *frag {
	if d := g.ll.dir; d != nil {
		switch {
		case outbound:
			return g.ncmp(orLinkHdr, d.off, d.size, d.outMask, cbpf.JEQ, false, d.out)
		case d.inIsNotOutbound:
			return g.not(g.ncmp(orLinkHdr, d.off, d.size, d.outMask, cbpf.JEQ, false, d.out))
		}
		return g.ncmp(orLinkHdr, d.off, d.size, d.inMask, cbpf.JEQ, false, d.in)
	}
	kw := "inbound"
	if outbound {
		kw = "outbound"
	}
	g.requireLive(kw)
	b0 := g.cmp(orLinkHdr, cbpf.AncillaryBase+ancPktType, cbpf.H, packetOutgoing)
	if outbound {
		return b0
	}
	return g.not(b0)
}

func (g *gen) requireLive(kw string) {
	if !g.opts.Live {
		g.errorf("not a live capture, '%s' not supported on %s", kw, g.dltName())
	}
}

func (g *gen) ifindex(idx uint32) *frag {
	if g.curLT == LinkTypeLinuxSLL2 {
		return g.cmp(orLinkHdr, 4, cbpf.W, idx)
	}
	g.requireLive("ifindex")
	return g.cmp(orLinkHdr, cbpf.AncillaryBase+ancIfIndex, cbpf.W, idx)
}

// llc generates "llc" and "llc NAME".
func (g *gen) llc(name string) *frag {
	lname := strings.ToLower(name)
	switch lname {
	case "", "i", "s", "u":
	default:
		if _, ok := llcSSubtypes[lname]; !ok {
			if _, ok := llcUSubtypes[lname]; !ok {
				g.errorf("unknown LLC type name \"%s\"", name)
			}
		}
	}
	b0 := g.llcInternal()
	if name == "" {
		return b0
	}
	var b1 *frag
	switch lname {
	case "i":
		b1 = g.unsetBits(0x01, g.loadA(orLLC, 2, cbpf.B))
	case "s":
		b1 = g.mcmp(orLLC, 2, cbpf.B, 1, 0x03)
	case "u":
		b1 = g.mcmp(orLLC, 2, cbpf.B, 3, 0x03)
	default:
		if st, ok := llcSSubtypes[lname]; ok {
			b1 = g.mcmp(orLLC, 2, cbpf.B, st, 0x0f)
		} else if ut, ok := llcUSubtypes[lname]; ok {
			b1 = g.mcmp(orLLC, 2, cbpf.B, ut, 0xef)
		} else {
			g.errorf("unknown LLC type name \"%s\"", name)
		}
	}
	return g.and(b0, b1)
}

// fieldRelation maps a relation of "vpi", "vci" and the MTP3 fields to
// a jump code and whether it is negated.
func fieldRelation(op string) (uint16, bool) {
	switch op {
	case ">":
		return cbpf.JGT, false
	case ">=":
		return cbpf.JGE, false
	case "<=":
		return cbpf.JGT, true
	case "<":
		return cbpf.JGE, true
	case "!=":
		return cbpf.JEQ, true
	}
	return cbpf.JEQ, false
}

// fieldValues generates "FIELD NUM", "FIELD relop NUM" and
// "FIELD (NUM or NUM ...)" with field generating one comparison.
func (g *gen) fieldValues(n *OtherNode, field func(v uint32, jtype uint16, reverse bool) *frag) *frag {
	if n.Op != "" {
		jtype, reverse := fieldRelation(n.Op)
		return field(n.List[0], jtype, reverse)
	}
	b := field(n.List[0], cbpf.JEQ, false)
	for _, v := range n.List[1:] {
		b = g.or(b, field(v, cbpf.JEQ, false))
	}
	return b
}
