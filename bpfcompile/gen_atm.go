package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// SunATM: a 4-byte pseudo-header (direction and protocol type, VPI, VCI)
// before an AAL5 PDU, which is LLC-encapsulated, LANE (Ethernet after a
// 2-byte LE header) or signalling (Q.2931).

// SunATM pseudo-header fields and protocol types, and Q.2931 messages.
const (
	sunatmProto   = 0
	sunatmVPI     = 1
	sunatmVCI     = 2
	sunatmPayload = 4

	atmPTLANE = 0x01
	atmPTLLC  = 0x02

	q2931MsgType     = 5 // offset of the message type in the PDU
	q2931CallProceed = 0x02
	q2931Connect     = 0x07
	q2931ConnectAck  = 0x0f
	q2931Setup       = 0x05
	q2931Release     = 0x4d
	q2931ReleaseDone = 0x5a
)

// atmProtoType tests the pseudo-header's protocol type.
func (g *gen) atmProtoType(v uint32) *frag {
	return g.mcmp(orLinkHdr, sunatmProto, cbpf.B, v, 0x0f)
}

func (g *gen) assertATM(kw string) {
	if g.curLT != LinkTypeSunATM || !g.ll.atm {
		g.errorf("'%s' supported only on SUNATM", kw)
	}
}

// atmField compares the VPI or VCI with v using jump code jtype, negated
// when reverse.
func (g *gen) atmField(kw string, v uint32, jtype uint16, reverse bool) *frag {
	g.assertATM(kw)
	if kw == "vpi" {
		g.assertMax("VPI", v, 0xff)
		return g.ncmp(orLinkHdr, sunatmVPI, cbpf.B, 0xffffffff, jtype, reverse, v)
	}
	g.assertMax("VCI", v, 0xffff)
	return g.ncmp(orLinkHdr, sunatmVCI, cbpf.H, 0xffffffff, jtype, reverse, v)
}

func (g *gen) atmVPIVCI(vpi, vci uint32) *frag {
	b0 := g.atmField("vpi", vpi, cbpf.JEQ, false)
	b1 := g.atmField("vci", vci, cbpf.JEQ, false)
	return g.and(b0, b1)
}

// atmKeyword generates the SunATM keywords: the reserved circuits
// (VPI 0 and a VCI), "lane" (what follows is Ethernet), and the
// signalling messages.
func (g *gen) atmKeyword(kw string) *frag {
	g.assertATM(kw)
	switch kw {
	case "metac":
		return g.atmVPIVCI(0, 1)
	case "bcc":
		return g.atmVPIVCI(0, 2)
	case "oamf4sc":
		return g.atmVPIVCI(0, 3)
	case "oamf4ec":
		return g.atmVPIVCI(0, 4)
	case "sc":
		return g.atmVPIVCI(0, 5)
	case "ilmic":
		return g.atmVPIVCI(0, 16)
	case "lane":
		b1 := g.atmProtoType(atmPTLANE)
		g.pushLinkHdr(LinkTypeEthernet, false, sunatmPayload+2, -1)
		g.offLinkType.constPart = g.offLinkHdr.constPart + 12
		g.offLinkPL.constPart = g.offLinkHdr.constPart + 14
		g.offNL, g.offNLNoSNAP = 0, 3
		return b1
	case "oam", "oamf4":
		b0 := g.atmField("vci", 3, cbpf.JEQ, false)
		b1 := g.atmField("vci", 4, cbpf.JEQ, false)
		b1 = g.or(b0, b1)
		b0 = g.atmField("vpi", 0, cbpf.JEQ, false)
		return g.and(b0, b1)
	case "connectmsg", "metaconnect":
		msgs := []uint32{q2931Setup, q2931CallProceed, q2931Connect, q2931ConnectAck, q2931Release, q2931ReleaseDone}
		circuit := "sc"
		if kw == "metaconnect" {
			msgs = []uint32{q2931Setup, q2931CallProceed, q2931Connect, q2931Release, q2931ReleaseDone}
			circuit = "metac"
		}
		b0 := g.atmMsg(msgs[0])
		b1 := g.or(b0, g.atmMsg(msgs[1]))
		for _, m := range msgs[2:] {
			b1 = g.or(g.atmMsg(m), b1)
		}
		return g.and(g.atmKeyword(circuit), b1)
	}
	g.errorf("internal error: ATM keyword %q", kw)
	return nil
}

// atmMsg tests a signalling message's type.
func (g *gen) atmMsg(t uint32) *frag {
	return g.cmp(orLinkHdr, sunatmPayload+q2931MsgType, cbpf.B, t)
}
