package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// ISO network-layer protocol IDs and IS-IS PDU types.
const (
	isoCLNP = 0x81
	isoESIS = 0x82
	isoISIS = 0x83

	isisL1LanIIH = 15
	isisL2LanIIH = 16
	isisPTPIIH   = 17
	isisL1LSP    = 18
	isisL2LSP    = 20
	isisL1CSNP   = 24
	isisL2CSNP   = 25
	isisL1PSNP   = 26
	isisL2PSNP   = 27
	isisPDUMax   = 0x1f
)

var pqIPProto = map[pqual]uint32{
	qAH: ipprotoAH, qCARP: ipprotoCARP, qESP: ipprotoESP, qICMP: ipprotoICMP,
	qICMPv6: ipprotoICMPv6, qIGMP: ipprotoIGMP, qIGRP: ipprotoIGRP, qPIM: ipprotoPIM,
	qSCTP: ipprotoSCTP, qTCP: ipprotoTCP, qUDP: ipprotoUDP, qVRRP: ipprotoVRRP,
}

var pqEthertype = map[pqual]uint32{
	qAARP: ethertypeAARP, qARP: ethertypeARP, qAtalk: ethertypeAtalk, qDECnet: ethertypeDN,
	qIP: ethertypeIP, qIPv6: ethertypeIPv6, qLAT: ethertypeLAT, qMOPDL: ethertypeMOPDL,
	qMOPRC: ethertypeMOPRC, qRARP: ethertypeRARP, qSCA: ethertypeSCA,
}

var pqLLCSAP = map[pqual]uint32{
	qIPX: llcsapIPX, qISO: llcsapISONS, qNetBEUI: llcsapNetBEUI, qSTP: llcsap8021D,
}

var pqNLPID = map[pqual]uint32{qESIS: isoESIS, qISIS: isoISIS, qCLNP: isoCLNP}

// protoAbbrev generates a protocol name used alone ("tcp", "arp", "l1").
func (g *gen) protoAbbrev(p pqual) *frag {
	isis := func(types ...uint32) *frag {
		b1 := g.genProto(types[0], qISIS)
		for i, t := range types[1:] {
			b0 := g.genProto(t, qISIS)
			if i == 0 {
				b1 = g.or(b1, b0)
			} else {
				b1 = g.or(b0, b1)
			}
		}
		return b1
	}
	switch p {
	case qSCTP, qTCP, qUDP, qAH, qESP, qPIM:
		return g.genProto(pqIPProto[p], qDefault)
	case qICMP, qIGMP, qIGRP, qVRRP, qCARP:
		return g.genProto(pqIPProto[p], qIP)
	case qICMPv6:
		return g.genProto(pqIPProto[p], qIPv6)
	case qIP, qARP, qRARP, qAtalk, qAARP, qDECnet, qSCA, qLAT, qMOPDL, qMOPRC, qIPv6:
		return g.linkProto(pqEthertype[p])
	case qISO, qSTP, qIPX, qNetBEUI:
		return g.linkProto(pqLLCSAP[p])
	case qESIS, qISIS, qCLNP:
		return g.genProto(pqNLPID[p], qISO)
	case qISISL1:
		return isis(isisL1LanIIH, isisPTPIIH, isisL1LSP, isisL1CSNP, isisL1PSNP)
	case qISISL2:
		return isis(isisL2LanIIH, isisPTPIIH, isisL2LSP, isisL2CSNP, isisL2PSNP)
	case qISISIIH:
		return isis(isisL1LanIIH, isisL2LanIIH, isisPTPIIH)
	case qISISLSP:
		return isis(isisL1LSP, isisL2LSP)
	case qISISSNP:
		return isis(isisL1CSNP, isisL2CSNP, isisL1PSNP, isisL2PSNP)
	case qISISCSNP:
		return isis(isisL1CSNP, isisL2CSNP)
	case qISISPSNP:
		return isis(isisL1PSNP, isisL2PSNP)
	}
	g.errorf("'%s' cannot be used as an abbreviation", p)
	return nil
}

// genProto tests the protocol field of the layer named by p for v.
func (g *gen) genProto(v uint32, p pqual) *frag {
	switch p {
	case qDefault:
		b0 := g.genProto(v, qIP)
		b1 := g.genProto(v, qIPv6)
		return g.or(b0, b1)
	case qLink:
		return g.linkProto(v)
	case qIP:
		g.assertMax("protocol number", v, 0xff)
		b0 := g.linkProto(ethertypeIP)
		return g.and(b0, g.ipProto(v))
	case qIPv6:
		g.assertMax("protocol number", v, 0xff)
		b0 := g.linkProto(ethertypeIPv6)
		b2 := g.ip6Proto(ipprotoFragment)
		b1 := g.cmp(orLinkPL, 40, cbpf.B, v)
		b1 = g.and(b2, b1)
		b2 = g.ip6Proto(v)
		b1 = g.or(b2, b1)
		return g.and(b0, b1)
	case qISO:
		g.assertMax("ISO protocol", v, 0xff)
		if g.ll.isoNLPID {
			return g.frelayNLPID(v)
		}
		b0 := g.linkProto(llcsapISONS)
		b1 := g.cmp(orLinkPLNoSNAP, g.ll.isoOffset, cbpf.B, v)
		return g.and(b0, b1)
	case qISIS:
		g.assertMax("IS-IS PDU type", v, isisPDUMax)
		b0 := g.genProto(isoISIS, qISO)
		b1 := g.mcmp(orLinkPLNoSNAP, 4+g.ll.isoOffset, cbpf.B, v, isisPDUMax)
		return g.and(b0, b1)
	}
	g.errorf("'%s' is not a valid qualifier for 'proto'", p)
	return nil
}

// lookupProto resolves the name after "proto"/"protochain".
func (g *gen) lookupProto(name string, q qual) uint32 {
	v := -1
	switch q.proto {
	case qDefault, qIP, qIPv6:
		if n, err := g.res.LookupProto(name); err == nil {
			v = n
		}
	case qLink:
		if n, ok := etherProtoNames[name]; ok {
			v = int(n)
		} else if n, ok := llcNames[name]; ok {
			v = int(n)
		}
	case qISO:
		switch name {
		case "esis":
			v = isoESIS
		case "isis":
			v = isoISIS
		case "clnp":
			v = isoCLNP
		}
	}
	if v >= 0 {
		return uint32(v)
	}
	if q.proto == qDefault {
		g.errorf("unknown '%s' value '%s'", q.addr, name)
	}
	g.errorf("unknown '%s %s' value '%s'", q.proto, q.addr, name)
	return 0
}

// protochain walks the IPv6 extension headers (and IPv4's AH) to find
// protocol v. The walk is a backward jump, a loop the kernel refuses, so
// such a program is run in user space; the optimizer leaves it alone.
func (g *gen) protochain(v uint32, p pqual) *frag {
	// As in libpcap, the scratch register is taken first, even for the
	// unqualified form, which then never gives it back.
	reg2 := g.allocReg()
	switch p {
	case qIP, qIPv6:
		g.assertMax("protocol number", v, 0xff)
	case qDefault:
		b0 := g.protochain(v, qIP)
		b := g.protochain(v, qIPv6)
		return g.or(b0, b)
	default:
		g.errorf("'%s' is not a valid qualifier for 'protochain'", p)
	}
	if g.offLinkPL.variable {
		g.errorf("'protochain' not supported with variable length headers")
	}
	g.noOptimize = true
	nl := g.offLinkPL.constPart + g.offNL
	var b0 *frag
	var s []stmt
	if p == qIP {
		b0 = g.linkProto(ethertypeIP)
		s = append(s, g.loadA(orLinkPL, 9, cbpf.B)...)
		s = append(s, g.loadXIPHdrLen()...)
	} else {
		b0 = g.linkProto(ethertypeIPv6)
		s = append(s, g.loadA(orLinkPL, 6, cbpf.B)...)
		s = append(s, stmt{code: cbpf.LDX | cbpf.IMM, k: 40})
	}
	// Jump targets are fixed up once every statement is placed.
	type fix struct{ at, jt, jf int }
	var fixes []fix
	again := len(s)
	fix5 := len(s)
	s = append(s, stmt{code: cbpf.JMP | cbpf.JEQ | cbpf.K, k: v})
	fix2 := len(s)
	s = append(s, stmt{code: cbpf.JMP | cbpf.JEQ | cbpf.K, k: ipprotoNone})
	var fix3 int = -1
	var v6advance int
	var v6ext []int
	if p == qIPv6 {
		for _, h := range []uint32{ipprotoHopopts, ipprotoDstopts, ipprotoRouting, ipprotoFragment} {
			v6ext = append(v6ext, len(s))
			s = append(s, stmt{code: cbpf.JMP | cbpf.JEQ | cbpf.K, k: h})
		}
		fix3 = v6ext[3]
		v6advance = len(s)
		s = append(s,
			stmt{code: cbpf.LD | cbpf.IND | cbpf.B, k: nl},
			stmt{code: cbpf.ST, k: uint32(reg2)},
			stmt{code: cbpf.LD | cbpf.IND | cbpf.B, k: nl + 1},
			stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 1},
			stmt{code: cbpf.ALU | cbpf.MUL | cbpf.K, k: 8},
			stmt{code: cbpf.ALU | cbpf.ADD | cbpf.X},
			stmt{code: cbpf.MISC | cbpf.TAX},
			stmt{code: cbpf.LD | cbpf.MEM, k: uint32(reg2)})
		ja := len(s)
		s = append(s, stmt{code: cbpf.JMP | cbpf.JA, k: uint32(again - ja - 1)})
	} else {
		s = append(s, stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 0})
	}
	ahcheck := len(s)
	s = append(s, stmt{code: cbpf.JMP | cbpf.JEQ | cbpf.K, k: ipprotoAH})
	ahBody := len(s)
	s = append(s,
		stmt{code: cbpf.LD | cbpf.IND | cbpf.B, k: nl},
		stmt{code: cbpf.ST, k: uint32(reg2)},
		stmt{code: cbpf.MISC | cbpf.TXA},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 1},
		stmt{code: cbpf.MISC | cbpf.TAX},
		stmt{code: cbpf.LD | cbpf.IND | cbpf.B, k: nl},
		stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 2},
		stmt{code: cbpf.ALU | cbpf.MUL | cbpf.K, k: 4},
		stmt{code: cbpf.MISC | cbpf.TAX},
		stmt{code: cbpf.LD | cbpf.MEM, k: uint32(reg2)})
	ja := len(s)
	s = append(s, stmt{code: cbpf.JMP | cbpf.JA, k: uint32(again - ja - 1)})
	end := len(s)
	s = append(s, stmt{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 0})

	// fix5 (== v): found; else try "no next header"
	fixes = append(fixes, fix{fix5, end, fix2})
	if p == qIPv6 {
		fixes = append(fixes, fix{fix2, end, v6ext[0]})
		for i, at := range v6ext {
			jf := ahcheck
			if i < 3 {
				jf = v6ext[i+1]
			}
			fixes = append(fixes, fix{at, v6advance, jf})
		}
		_ = fix3
	} else {
		fixes = append(fixes, fix{fix2, end, fix2 + 1})
	}
	fixes = append(fixes, fix{ahcheck, ahBody, end})
	for _, f := range fixes {
		s[f.at].jt = uint8(f.jt - f.at - 1)
		s[f.at].jf = uint8(f.jf - f.at - 1)
	}
	b := g.jmpFrag(cbpf.JMP|cbpf.JEQ|cbpf.K, v, s)
	g.freeReg(reg2)
	return g.and(b0, b)
}
