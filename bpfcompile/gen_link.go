package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// EtherTypes, LLC SAPs and other link-layer protocol numbers.
const (
	etherMTU        = 1500
	ethertypeIP     = 0x0800
	ethertypeARP    = 0x0806
	ethertypeNS     = 0x0600
	ethertypeMOPDL  = 0x6001
	ethertypeMOPRC  = 0x6002
	ethertypeDN     = 0x6003
	ethertypeLAT    = 0x6004
	ethertypeSCA    = 0x6007
	ethertypeTEB    = 0x6558
	ethertypeRARP   = 0x8035
	ethertypeAtalk  = 0x809b
	ethertypeAARP   = 0x80f3
	ethertype8021Q  = 0x8100
	ethertypeIPX    = 0x8137
	ethertypeIPv6   = 0x86dd
	ethertypeMPLS   = 0x8847
	ethertypePPPoED = 0x8863
	ethertypePPPoES = 0x8864
	ethertype8021AD = 0x88a8
	ethertypeQinQ   = 0x9100

	llcsapIP      = 0x06
	llcsapISONS   = 0xfe
	llcsapNetBEUI = 0xf0
	llcsapIPX     = 0xe0
	llcsap8021D   = 0x42
	llcsapSNAP    = 0xaa

	sllP8022 = 0x0004
	sllP8023 = 0x0001

	afINET  = 2
	afINET6 = 10 // Linux

	pppIP     = 0x0021
	pppIPv6   = 0x0057
	pppDECnet = 0x0027
	pppApple  = 0x0029
	pppNS     = 0x0025
	pppOSI    = 0x0023
	pppBRPDU  = 0x0031
	pppIPX    = 0x002b
)

// ipVersion tests the version nibble of an IP header.
func (g *gen) ipVersion(rel offrel, ver uint32) *frag {
	return g.mcmp(rel, 0, cbpf.B, ver<<4, 0xf0)
}

// linktype tests that the link-layer header says the payload is of
// protocol llProto (an EtherType, or an LLC SAP when <= 1500).
func (g *gen) linkProto(llProto uint32) *frag {
	if g.labelDepth > 0 {
		return g.mplsLinktype(llProto)
	}
	if g.curLinktype == dltPPP {
		return g.cmp(orLinkType, 0, cbpf.H, g.ethertypeToPPP(llProto))
	}
	switch LinkType(g.curLinktype) {
	case LinkTypeEthernet:
		// libpcap checks the outer header here only for SunATM; inside a
		// tunnel there is nothing to check either.
		return g.etherLinktype(llProto)
	case LinkTypeLinuxSLL:
		return g.sllLinktype(llProto)
	case LinkTypeRaw:
		switch llProto {
		case ethertypeIP:
			return g.ipVersion(orLinkHdr, 4)
		case ethertypeIPv6:
			return g.ipVersion(orLinkHdr, 6)
		}
		return genFalse()
	case LinkTypeIPv4:
		return uncond(llProto == ethertypeIP)
	case LinkTypeIPv6:
		return uncond(llProto == ethertypeIPv6)
	case LinkTypeNull, LinkTypeLoop:
		return g.loopbackLinktype(llProto)
	}
	// LINUX_SLL2: a plain EtherType field.
	g.assertMax("EtherType", llProto, 0xffff)
	return g.cmp(orLinkType, 0, cbpf.H, llProto)
}

func (g *gen) ethertypeToPPP(p uint32) uint32 {
	switch p {
	case ethertypeIP:
		return pppIP
	case ethertypeIPv6:
		return pppIPv6
	case ethertypeDN:
		return pppDECnet
	case ethertypeAtalk:
		return pppApple
	case ethertypeNS:
		return pppNS
	case llcsapISONS:
		return pppOSI
	case llcsap8021D:
		return pppBRPDU
	case llcsapIPX:
		return pppIPX
	}
	g.assertMax("PPP protocol", p, 0xffff)
	return p
}

func (g *gen) etherLinktype(p uint32) *frag {
	switch p {
	case llcsapISONS, llcsapIP, llcsapNetBEUI:
		b0 := g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		b1 := g.cmp(orLLC, 0, cbpf.H, p<<8|p)
		return and(b0, b1)
	case llcsapIPX:
		b0 := g.cmp(orLLC, 0, cbpf.B, llcsapIPX)
		b1 := g.cmp(orLLC, 0, cbpf.H, 0xffff)
		b1 = or(b0, b1)
		b0 = g.snap(0x000000, ethertypeIPX)
		b1 = or(b0, b1)
		b0 = g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		b1 = and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, ethertypeIPX)
		return or(b0, b1)
	case ethertypeAtalk, ethertypeAARP:
		b0 := g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		var b1 *frag
		if p == ethertypeAtalk {
			b1 = g.snap(0x080007, ethertypeAtalk)
		} else {
			b1 = g.snap(0x000000, ethertypeAARP)
		}
		b1 = and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, p)
		return or(b0, b1)
	}
	if p <= etherMTU {
		g.assertMax("LLC DSAP", p, 0xff)
		b0 := g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		b1 := g.cmp(orLinkType, 2, cbpf.B, p)
		return and(b0, b1)
	}
	g.assertMax("EtherType", p, 0xffff)
	return g.cmp(orLinkType, 0, cbpf.H, p)
}

func (g *gen) sllLinktype(p uint32) *frag {
	switch p {
	case llcsapISONS, llcsapIP, llcsapNetBEUI:
		b0 := g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		b1 := g.cmp(orLLC, 0, cbpf.H, p<<8|p)
		return and(b0, b1)
	case llcsapIPX:
		b0 := g.cmp(orLLC, 0, cbpf.B, llcsapIPX)
		b1 := g.snap(0x000000, ethertypeIPX)
		b1 = or(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		b1 = and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, sllP8023)
		b1 = or(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, ethertypeIPX)
		return or(b0, b1)
	case ethertypeAtalk, ethertypeAARP:
		b0 := g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		var b1 *frag
		if p == ethertypeAtalk {
			b1 = g.snap(0x080007, ethertypeAtalk)
		} else {
			b1 = g.snap(0x000000, ethertypeAARP)
		}
		b1 = and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, p)
		return or(b0, b1)
	}
	if p <= etherMTU {
		g.assertMax("LLC DSAP", p, 0xff)
		b0 := g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		b1 := g.cmp(orLinkHdr, g.offLinkPL.constPart, cbpf.B, p)
		return and(b0, b1)
	}
	g.assertMax("EtherType", p, 0xffff)
	return g.cmp(orLinkType, 0, cbpf.H, p)
}

// loopbackLinktype tests the address-family word of DLT_NULL/DLT_LOOP.
// A live capture (and a savefile by default) has Linux's AF_INET6; with
// OfflineAF the BSD values of a savefile are accepted instead.
func (g *gen) loopbackLinktype(p uint32) *frag {
	if !g.opts.OfflineAF {
		var af uint32
		switch p {
		case ethertypeIP:
			af = afINET
		case ethertypeIPv6:
			af = afINET6
		default:
			return genFalse()
		}
		if LinkType(g.curLinktype) == LinkTypeNull {
			af = swap32(af) // host byte order; this package assumes little-endian
		}
		return g.cmp(orLinkHdr, 0, cbpf.W, af)
	}
	if LinkType(g.curLinktype) == LinkTypeNull {
		b0 := g.bsdAFOffline(p, g.opts.SwappedAF)
		b1 := g.bsdAFOffline(p, !g.opts.SwappedAF)
		return or(b0, b1)
	}
	return g.bsdAFOffline(p, false)
}

func (g *gen) bsdAFOffline(p uint32, swapped bool) *frag {
	c := func(v uint32) *frag {
		if swapped {
			v = swap32(v)
		}
		return g.cmp(orLinkHdr, 0, cbpf.W, v)
	}
	switch p {
	case ethertypeIP:
		return c(2)
	case ethertypeIPv6:
		b0 := c(24)
		b1 := c(28)
		b1 = or(b0, b1)
		b0 = c(30)
		return or(b0, b1)
	}
	return genFalse()
}

func swap32(v uint32) uint32 {
	return v>>24 | v>>8&0xff00 | v<<8&0xff0000 | v<<24
}

// snap tests an 802.2 SNAP header with the organization code and type.
func (g *gen) snap(org, ptype uint32) *frag {
	b := []byte{llcsapSNAP, llcsapSNAP, 0x03, byte(org >> 16), byte(org >> 8), byte(org), byte(ptype >> 8), byte(ptype)}
	return g.bcmp(orLLC, 0, b)
}

// llcInternal tests for an 802.2 LLC frame.
func (g *gen) llcInternal() *frag {
	if g.isEther() {
		b0 := g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		b1 := g.cmpNE(orLLC, 0, cbpf.H, 0xffff)
		return and(b0, b1)
	}
	g.failKwOnDLT("llc")
	return nil
}

// mplsLinktype tests the protocol after an MPLS label stack.
func (g *gen) mplsLinktype(p uint32) *frag {
	afterStack := func() *frag {
		return setBits(0x01, g.loadA(orPrevMPLSHdr, 2, cbpf.B))
	}
	switch p {
	case ethertypeIP:
		return and(afterStack(), g.ipVersion(orLinkPL, 4))
	case ethertypeIPv6:
		return and(afterStack(), g.ipVersion(orLinkPL, 6))
	}
	g.errorf("unsupported protocol over mpls")
	return nil
}
