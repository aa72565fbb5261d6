package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// Encapsulations: VLAN tags, MPLS label stacks, PPPoE, Geneve and VXLAN.
// Each moves the offsets of the headers after it for the rest of the
// expression, as in libpcap.

const (
	pppMPLSUcast   = 0x0281
	mplsLabelMax   = 0xfffff
	mplsLabelShift = 12
	genevePort     = 6081
	vxlanPort      = 4789
)

func (g *gen) vlanTPIDTest() *frag {
	b0 := g.linkProto(ethertype8021Q)
	b1 := g.linkProto(ethertype8021AD)
	b0 = g.or(b0, b1)
	b1 = g.linkProto(ethertypeQinQ)
	return g.or(b0, b1)
}

func (g *gen) vlanVIDTest(v uint32) *frag {
	g.assertMax("VLAN tag", v, 0x0fff)
	return g.mcmp(orLinkPL, 0, cbpf.H, v, 0x0fff)
}

// vlan tests for an 802.1Q/802.1ad tag, optionally with VLAN ID v.
func (g *gen) vlan(v uint32, hasV bool) *frag {
	if g.labelDepth > 0 {
		g.errorf("no VLAN match after MPLS")
	}
	var b0 *frag
	switch {
	case g.curLT == LinkTypeEthernet && g.vlanDepth == 0 && !g.offLinkHdr.variable &&
		g.offLinkHdr.constPart == g.offOuterLinkHdr.constPart && g.opts.Live:
		b0 = g.vlanExtensions(v, hasV)
	case g.ll.vlan:
		b0 = g.vlanInline(v, hasV)
	default:
		g.failKwOnDLT("vlan")
	}
	g.vlanDepth++
	return b0
}

// vlanInline tests a tag in the frame, as in a savefile.
func (g *gen) vlanInline(v uint32, hasV bool) *frag {
	b0 := g.vlanTPIDTest()
	if hasV {
		b0 = g.and(b0, g.vlanVIDTest(v))
	}
	g.offLinkPL.constPart += 4
	g.offLinkType.constPart += 4
	return b0
}

// vloffsetAdd appends "off.reg += v" to s, making off variable.
func (g *gen) vloffsetAdd(off *absOffset, v uint32, s []stmt) []stmt {
	off.variable = true
	if off.reg == -1 {
		off.reg = g.allocReg()
	}
	return append(s,
		stmt{code: cbpf.LD | cbpf.MEM, k: uint32(off.reg)},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: v},
		stmt{code: cbpf.ST, k: uint32(off.reg)})
}

// vlanExtensions tests for a tag with the Linux ancillary loads: the
// kernel strips the outermost tag into the packet's metadata; a tag still
// in the frame (QinQ) is tested inline, at offsets then known only at run
// time.
func (g *gen) vlanExtensions(v uint32, hasV bool) *frag {
	b0 := g.jmpFrag(cbpf.JMP|cbpf.JEQ|cbpf.K, 1, []stmt{{code: cbpf.LD | cbpf.ABS | cbpf.B, k: cbpf.AncillaryBase + ancVLANTagPresent}})
	tpid := g.vlanTPIDTest()
	var vid *frag
	if hasV {
		vid = g.vlanVIDTest(v)
	}
	// patch the TPID test: when the tag is in the frame, move the offsets.
	g.isVlanVloffset = true
	var s []stmt
	s = g.vloffsetAdd(&g.offLinkPL, 4, s)
	s = g.vloffsetAdd(&g.offLinkType, 4, s)
	g.prependStmts(s, tpid.head)
	b0 = g.or(b0, tpid)
	if hasV {
		vb := vid.head
		cnt := int(g.blk[vb].nstmts)
		p := []stmt{
			{code: cbpf.LD | cbpf.ABS | cbpf.B, k: cbpf.AncillaryBase + ancVLANTagPresent},
			{code: cbpf.JMP | cbpf.JEQ | cbpf.K, k: 1, jt: 0, jf: 2},
			{code: cbpf.LD | cbpf.ABS | cbpf.H, k: cbpf.AncillaryBase + ancVLANTag},
			{code: cbpf.JMP | cbpf.JA, k: uint32(cnt - 1)},
		}
		g.prependStmts(p, vb)
		b0 = g.and(b0, vid)
	}
	return b0
}

// mpls tests for an MPLS label stack entry, optionally with label v.
func (g *gen) mpls(v uint32, hasV bool) *frag {
	var b0 *frag
	if g.labelDepth > 0 {
		b0 = g.not(g.setBits(0x01, g.loadA(orPrevMPLSHdr, 2, cbpf.B)))
	} else {
		if g.ll.mpls == 0 {
			g.failKwOnDLT("mpls")
		}
		b0 = g.linkProto(g.ll.mpls)
	}
	if hasV {
		g.assertMax("MPLS label", v, mplsLabelMax)
		b1 := g.mcmp(orLinkPL, 0, cbpf.W, v<<mplsLabelShift, mplsLabelMax<<mplsLabelShift)
		b0 = g.and(b0, b1)
	}
	g.offNLNoSNAP += 4
	g.offNL += 4
	g.labelDepth++
	return b0
}

func (g *gen) pppoed() *frag { return g.linkProto(ethertypePPPoED) }

// pppoes tests for a PPPoE session frame; what follows is PPP.
func (g *gen) pppoes(v uint32, hasV bool) *frag {
	b0 := g.linkProto(ethertypePPPoES)
	if hasV {
		g.assertMax("PPPoE session number", v, 0xffff)
		b0 = g.and(b0, g.cmp(orLinkPL, 2, cbpf.H, v))
	}
	g.pushLinkHdr(LinkTypePPP, g.offLinkPL.variable, g.offLinkPL.constPart+g.offNL+6, g.offLinkPL.reg)
	g.offLinkType = g.offLinkHdr
	g.offLinkPL.constPart = g.offLinkHdr.constPart + 2
	g.offNL = 0
	g.offNLNoSNAP = 0
	return b0
}

// pushLinkHdr makes lt, whose header starts at the offset given, the
// current link layer: what follows is that link type's frame.
func (g *gen) pushLinkHdr(lt LinkType, variable bool, constPart uint32, reg int) {
	if !g.outerSaved {
		// Nothing allocates registers for these any more: they are
		// what the code before the first test must compute.
		g.outerSaved, g.outerLinkHdr, g.outerLinkPL = true, g.offLinkHdr, g.offLinkPL
	}
	g.offPrevLinkHdr = g.offLinkHdr
	g.prevLT = g.curLT
	g.setLinkLayer(lt)
	g.offLinkHdr = absOffset{constPart: constPart, variable: variable, reg: reg}
	g.isEncap = false
}

// setLinkLayer makes lt's row the one the generator consults, without
// moving any offset.
func (g *gen) setLinkLayer(lt LinkType) {
	g.curLT = lt
	g.ll, _ = linkLayerRow(lt)
}

// tunnelCheck is the UDP destination port and header test of Geneve or
// VXLAN over IPv4 (v6 false) or IPv6.
func (g *gen) tunnelCheck(v6 bool, port uint32, vni uint32, hasVNI bool, geneve bool) *frag {
	rel := orTranIPv4
	var b0 *frag
	if v6 {
		rel = orTranIPv6
		b0 = g.port6(port, ipprotoUDP, dDst, aPort)
	} else {
		b0 = g.port(port, ipprotoUDP, dDst, aPort)
	}
	name := "VXLAN VNI"
	if geneve {
		b0 = g.and(b0, g.mcmp(rel, 8, cbpf.B, 0, 0xc0))
		name = "Geneve VNI"
	} else {
		b0 = g.and(b0, g.cmp(rel, 8, cbpf.B, 0x08))
	}
	if hasVNI {
		g.assertMax(name, vni, 0xffffff)
		b0 = g.and(b0, g.mcmp(rel, 12, cbpf.W, vni<<8, 0xffffff00))
	}
	// Leave the offset of the UDP header in A (and X).
	var s []stmt
	if v6 {
		s = g.varPart(&g.offLinkPL)
		if s != nil {
			s = append(s, stmt{code: cbpf.LD | cbpf.IMM, k: 40}, stmt{code: cbpf.ALU | cbpf.ADD | cbpf.X})
		} else {
			s = []stmt{{code: cbpf.LD | cbpf.IMM, k: 40}}
		}
		s = append(s, stmt{code: cbpf.MISC | cbpf.TAX})
	} else {
		s = append(g.loadXIPHdrLen(), stmt{code: cbpf.MISC | cbpf.TXA})
	}
	b1 := g.jmpFrag(cbpf.JMP|cbpf.JEQ|cbpf.X, 0, s)
	return g.and(b0, b1)
}

// geneve tests for Geneve; what follows is the encapsulated frame.
func (g *gen) geneve(vni uint32, hasVNI bool) *frag {
	b0 := g.tunnelCheck(false, genevePort, vni, hasVNI, true)
	b1 := g.tunnelCheck(true, genevePort, vni, hasVNI, true)
	s := []stmt{
		{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: g.offLinkPL.constPart + g.offNL + 8},
		{code: cbpf.MISC | cbpf.TAX},
		{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 2},
	}
	g.offLinkType = absOffset{reg: g.allocReg(), variable: true}
	s = append(s,
		stmt{code: cbpf.ST, k: uint32(g.offLinkType.reg)},
		stmt{code: cbpf.LD | cbpf.IND | cbpf.B, k: 0},
		stmt{code: cbpf.ALU | cbpf.AND | cbpf.K, k: 0x3f},
		stmt{code: cbpf.ALU | cbpf.MUL | cbpf.K, k: 4},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 8},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.X})
	g.pushLinkHdr(LinkTypeEthernet, true, 0, g.allocReg())
	s = append(s, stmt{code: cbpf.ST, k: uint32(g.offLinkHdr.reg)})
	g.noOptimize = true
	s = append(s,
		stmt{code: cbpf.LD | cbpf.IND | cbpf.H, k: 2},
		stmt{code: cbpf.LDX | cbpf.MEM, k: uint32(g.offLinkHdr.reg)})
	jeq := len(s)
	s = append(s, stmt{code: cbpf.JMP | cbpf.JEQ | cbpf.K, k: ethertypeTEB})
	s = append(s,
		stmt{code: cbpf.MISC | cbpf.TXA},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 12},
		stmt{code: cbpf.ST, k: uint32(g.offLinkType.reg)},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 2},
		stmt{code: cbpf.MISC | cbpf.TAX})
	g.offLinkPL = absOffset{reg: g.allocReg(), variable: true}
	s = append(s, stmt{code: cbpf.STX, k: uint32(g.offLinkPL.reg)})
	s[jeq].jt = 0
	s[jeq].jf = uint8(len(s) - 1 - jeq - 1)
	g.offNL = 0
	offsets := g.genTrue()
	g.prependStmts(s, offsets.head)
	offsets.m = uncertain
	g.isEncap = true
	return g.and(g.or(b0, b1), offsets)
}

// vxlan tests for VXLAN; what follows is the encapsulated frame.
func (g *gen) vxlan(vni uint32, hasVNI bool) *frag {
	b0 := g.tunnelCheck(false, vxlanPort, vni, hasVNI, false)
	b1 := g.tunnelCheck(true, vxlanPort, vni, hasVNI, false)
	s := []stmt{
		{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: g.offLinkPL.constPart + g.offNL + 8},
		{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 8},
	}
	g.pushLinkHdr(LinkTypeEthernet, true, 0, g.allocReg())
	s = append(s, stmt{code: cbpf.ST, k: uint32(g.offLinkHdr.reg)}, stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 12})
	g.offLinkType = absOffset{reg: g.allocReg(), variable: true}
	s = append(s,
		stmt{code: cbpf.ST, k: uint32(g.offLinkType.reg)},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 2},
		stmt{code: cbpf.MISC | cbpf.TAX})
	g.offLinkPL = absOffset{reg: g.allocReg(), variable: true}
	s = append(s, stmt{code: cbpf.STX, k: uint32(g.offLinkPL.reg)})
	g.offNL = 0
	offsets := g.genTrue()
	g.prependStmts(s, offsets.head)
	offsets.m = uncertain
	g.isEncap = true
	return g.and(g.or(b0, b1), offsets)
}

// encapLLCheck is true when the frame inside a tunnel is not empty.
func (g *gen) encapLLCheck() *frag {
	s := []stmt{
		{code: cbpf.LD | cbpf.MEM, k: uint32(g.offLinkHdr.reg)},
		{code: cbpf.LDX | cbpf.MEM, k: uint32(g.offLinkPL.reg)},
	}
	return g.not(g.jmpFrag(cbpf.JMP|cbpf.JEQ|cbpf.X, 0, s))
}

// finishParse puts before the program's first test the statements that
// compute the variable offsets it uses (the radio header's length, the
// 802.11 or pflog header's, the registers of the live VLAN code), and
// for PPI the check that the frame is 802.11.
//
// The offsets computed are the outermost link layer's. (libpcap computes
// them into the registers of the current link layer's offsets, which
// after "geneve" or "vxlan" are the tunnel's: the outer registers are
// then read before they are written, and the kernel refuses the
// program.)
func (g *gen) finishParse(f *frag) *frag {
	hdr, pl := &g.offLinkHdr, &g.offLinkPL
	if g.outerSaved {
		hdr, pl = &g.outerLinkHdr, &g.outerLinkPL
	}
	// The payload offset includes the link header's variable part.
	if pl.reg != -1 && hdr.variable && hdr.reg == -1 {
		hdr.reg = g.allocReg()
	}
	s := g.radioPrefixLen(hdr.reg)
	switch g.outerProto {
	case protoWLAN:
		s = g.wlanHeaderLen(s, pl.reg)
	case protoPFLOG:
		s = g.pflogHeaderLen(pl.reg)
	}
	if s == nil && g.isVlanVloffset {
		if g.offLinkPL.reg == -1 {
			g.offLinkPL.reg = g.allocReg()
		}
		if g.offLinkType.reg == -1 {
			g.offLinkType.reg = g.allocReg()
		}
		s = []stmt{
			{code: cbpf.LD | cbpf.IMM, k: 0},
			{code: cbpf.ST, k: uint32(g.offLinkPL.reg)},
			{code: cbpf.ST, k: uint32(g.offLinkType.reg)},
		}
	}
	if s != nil {
		g.prependStmts(s, f.head)
		f.m = uncertain
	}
	if g.outerPrefix == prefixPPI {
		f = g.and(g.cmp(orPacket, 4, cbpf.W, ppiDLT802_11), f)
	}
	return f
}
