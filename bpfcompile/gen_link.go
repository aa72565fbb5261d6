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
	pppVJC    = 0x002d // Van Jacobson compressed TCP/IP
	pppVJNC   = 0x002f // Van Jacobson uncompressed TCP/IP

	nlpidIPv4 = 0xcc // ISO/IEC TR 9577
	nlpidIPv6 = 0x8e

	juniperMagic = 0x4d474300 // "MGC", then flags
)

// arcnetSystemCodes are the ARCnet system codes (RFC 1201) of the
// protocols it carries, by EtherType.
var arcnetSystemCodes = map[uint32]uint32{
	ethertypeIPv6:  0xc4,
	ethertypeIP:    212,
	ethertypeARP:   213,
	ethertypeRARP:  214,
	ethertypeAtalk: 221,
}

// ipVersion tests the version nibble of an IP header.
func (g *gen) ipVersion(rel offrel, ver uint32) *frag {
	return g.mcmp(rel, 0, cbpf.B, ver<<4, 0xf0)
}

// linkProto tests that the link-layer header says the payload is of
// protocol llProto (an EtherType, or an LLC SAP when <= 1500), the way
// the current link layer announces it.
func (g *gen) linkProto(llProto uint32) *frag {
	if g.labelDepth > 0 {
		return g.mplsLinktype(llProto)
	}
	p := llProto
	switch g.ll.proto {
	case protoEther:
		// A tunnel's frame always has an EtherType; a LANE frame must
		// not be an LE control frame.
		var b0 *frag
		if !g.isEncap {
			b0 = g.prevLinkHdrCheck()
		}
		b1 := g.etherLinktype(p)
		if b0 != nil {
			return g.and(b0, b1)
		}
		return b1
	case protoEtherType:
		g.assertMax("EtherType", p, 0xffff)
		return g.cmp(orLinkType, 0, cbpf.H, p)
	case protoSLL:
		return g.sllLinktype(p)
	case protoLLC:
		return g.llcLinktype(p)
	case protoWLAN:
		b0 := g.mcmp(orLinkHdr, 0, cbpf.B, wlanTypeData, wlanTypeMask)
		return g.and(b0, g.llcLinktype(p))
	case protoSunATM:
		b0 := g.atmProtoType(atmPTLLC)
		return g.and(b0, g.llcLinktype(p))
	case protoCHDLC:
		g.assertMax("HDLC protocol", p, 0xffff)
		if p == llcsapISONS {
			p = p<<8 | p
		}
		return g.cmp(orLinkType, 0, cbpf.H, p)
	case protoIPVersion:
		switch p {
		case ethertypeIP:
			return g.ipVersion(orLinkHdr, 4)
		case ethertypeIPv6:
			return g.ipVersion(orLinkHdr, 6)
		}
		return g.genFalse()
	case protoIPv4Only:
		return g.uncond(p == ethertypeIP)
	case protoIPv6Only:
		return g.uncond(p == ethertypeIPv6)
	case protoPPP:
		return g.cmp(orLinkType, 0, cbpf.H, g.ethertypeToPPP(p))
	case protoPPPBSDOS:
		if p == ethertypeIP {
			b0 := g.cmp(orLinkType, 0, cbpf.H, pppIP)
			b1 := g.cmp(orLinkType, 0, cbpf.H, pppVJC)
			b1 = g.or(b0, b1)
			b0 = g.cmp(orLinkType, 0, cbpf.H, pppVJNC)
			return g.or(b1, b0)
		}
		return g.cmp(orLinkType, 0, cbpf.H, g.ethertypeToPPP(p))
	case protoAF:
		return g.loopbackLinktype(p)
	case protoPFLOG:
		return g.pflogLinktype(p)
	case protoARCnet:
		sc, ok := arcnetSystemCodes[p]
		if !ok {
			return g.genFalse()
		}
		return g.cmp(orLinkType, 0, cbpf.B, sc)
	case protoLTalk:
		return g.uncond(p == ethertypeAtalk)
	case protoFRelay:
		switch p {
		case ethertypeIP:
			return g.frelayNLPID(nlpidIPv4)
		case ethertypeIPv6:
			return g.frelayNLPID(nlpidIPv6)
		case llcsapISONS:
			b0 := g.frelayNLPID(isoCLNP)
			b1 := g.frelayNLPID(isoESIS)
			b2 := g.frelayNLPID(isoISIS)
			b2 = g.or(b1, b2)
			return g.or(b0, b2)
		}
		return g.genFalse()
	case protoJuniper:
		// Only the magic cookie can be checked: what follows depends on
		// the PIC and its encapsulation.
		return g.mcmp(orLinkHdr, 0, cbpf.W, juniperMagic, 0xffffff00)
	case protoIPNet:
		switch p {
		case ethertypeIP:
			return g.cmp(orLinkType, 0, cbpf.B, ipnetAFInet)
		case ethertypeIPv6:
			return g.cmp(orLinkType, 0, cbpf.B, ipnetAFInet6)
		}
		return g.genFalse()
	}
	g.errorf("link-layer type filtering not implemented for %s", g.dltName())
	return nil
}

// prevLinkHdrCheck is what a test of an encapsulated Ethernet frame
// needs besides the encapsulation's own test: inside a tunnel, a frame;
// inside LANE, a data frame (not an LE control frame). nil when nothing.
func (g *gen) prevLinkHdrCheck() *frag {
	if g.isEncap {
		return g.encapLLCheck()
	}
	if g.prevLT == LinkTypeSunATM {
		return g.cmpNE(orPrevLinkHdr, sunatmPayload, cbpf.H, 0xff00)
	}
	return nil
}

// frelayNLPID tests a Frame Relay UI frame (control 0x03 at offset 2,
// after a 2-byte address) for the NLPID v.
func (g *gen) frelayNLPID(v uint32) *frag {
	return g.cmp(orLinkHdr, 2, cbpf.H, 0x03<<8|v)
}

// llcLinktype tests an 802.2 LLC header for protocol p: the SAPs of
// IP, OSI and NetBIOS, IPX's DSAP, AppleTalk's SNAP header, any other
// DSAP, or an EtherType in a SNAP header.
func (g *gen) llcLinktype(p uint32) *frag {
	switch p {
	case llcsapIP, llcsapISONS, llcsapNetBEUI:
		return g.cmp(orLLC, 0, cbpf.H, p<<8|p)
	case llcsapIPX:
		return g.cmp(orLLC, 0, cbpf.B, llcsapIPX)
	case ethertypeAtalk:
		return g.snap(0x080007, ethertypeAtalk)
	}
	if p <= etherMTU {
		g.assertMax("LLC DSAP", p, 0xff)
		return g.cmp(orLLC, 0, cbpf.B, p)
	}
	g.assertMax("EtherType", p, 0xffff)
	return g.cmp(orLLC, 6, cbpf.H, p)
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
		return g.and(b0, b1)
	case llcsapIPX:
		b0 := g.cmp(orLLC, 0, cbpf.B, llcsapIPX)
		b1 := g.cmp(orLLC, 0, cbpf.H, 0xffff)
		b1 = g.or(b0, b1)
		b0 = g.snap(0x000000, ethertypeIPX)
		b1 = g.or(b0, b1)
		b0 = g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		b1 = g.and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, ethertypeIPX)
		return g.or(b0, b1)
	case ethertypeAtalk, ethertypeAARP:
		b0 := g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		var b1 *frag
		if p == ethertypeAtalk {
			b1 = g.snap(0x080007, ethertypeAtalk)
		} else {
			b1 = g.snap(0x000000, ethertypeAARP)
		}
		b1 = g.and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, p)
		return g.or(b0, b1)
	}
	if p <= etherMTU {
		g.assertMax("LLC DSAP", p, 0xff)
		b0 := g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		b1 := g.cmp(orLinkType, 2, cbpf.B, p)
		return g.and(b0, b1)
	}
	g.assertMax("EtherType", p, 0xffff)
	return g.cmp(orLinkType, 0, cbpf.H, p)
}

func (g *gen) sllLinktype(p uint32) *frag {
	switch p {
	case llcsapISONS, llcsapIP, llcsapNetBEUI:
		b0 := g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		b1 := g.cmp(orLLC, 0, cbpf.H, p<<8|p)
		return g.and(b0, b1)
	case llcsapIPX:
		b0 := g.cmp(orLLC, 0, cbpf.B, llcsapIPX)
		b1 := g.snap(0x000000, ethertypeIPX)
		b1 = g.or(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		b1 = g.and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, sllP8023)
		b1 = g.or(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, ethertypeIPX)
		return g.or(b0, b1)
	case ethertypeAtalk, ethertypeAARP:
		b0 := g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		var b1 *frag
		if p == ethertypeAtalk {
			b1 = g.snap(0x080007, ethertypeAtalk)
		} else {
			b1 = g.snap(0x000000, ethertypeAARP)
		}
		b1 = g.and(b0, b1)
		b0 = g.cmp(orLinkType, 0, cbpf.H, p)
		return g.or(b0, b1)
	}
	if p <= etherMTU {
		g.assertMax("LLC DSAP", p, 0xff)
		b0 := g.cmp(orLinkType, 0, cbpf.H, sllP8022)
		b1 := g.cmp(orLinkHdr, g.offLinkPL.constPart, cbpf.B, p)
		return g.and(b0, b1)
	}
	g.assertMax("EtherType", p, 0xffff)
	return g.cmp(orLinkType, 0, cbpf.H, p)
}

// loopbackLinktype tests the address-family word of DLT_NULL, DLT_LOOP
// and DLT_ENC. A live capture (and a savefile by default) has Linux's
// AF_INET6; with OfflineAF the BSD values of a savefile are accepted
// instead, in both byte orders where the word is in the host's.
func (g *gen) loopbackLinktype(p uint32) *frag {
	if !g.opts.OfflineAF {
		// The host byte order; this package assumes little-endian.
		return g.afLive(0, cbpf.W, p, g.ll.afHostOrder)
	}
	if g.ll.afHostOrder {
		b0 := g.afOffline(0, cbpf.W, p, g.opts.SwappedAF)
		b1 := g.afOffline(0, cbpf.W, p, !g.opts.SwappedAF)
		return g.or(b0, b1)
	}
	return g.afOffline(0, cbpf.W, p, false)
}

// pflogLinktype tests pflog's address-family byte.
func (g *gen) pflogLinktype(p uint32) *frag {
	if g.opts.OfflineAF {
		return g.afOffline(pflogAF, cbpf.B, p, false)
	}
	return g.afLive(pflogAF, cbpf.B, p, false)
}

// afLive tests an address family as Linux numbers it.
func (g *gen) afLive(off uint32, size uint16, p uint32, swapped bool) *frag {
	switch p {
	case ethertypeIP:
		return g.afCmp(off, size, afINET, swapped)
	case ethertypeIPv6:
		return g.afCmp(off, size, afINET6, swapped)
	}
	return g.genFalse()
}

// afOffline tests an address family as the BSDs number it (AF_INET6 is
// 24, 28 or 30 there).
func (g *gen) afOffline(off uint32, size uint16, p uint32, swapped bool) *frag {
	switch p {
	case ethertypeIP:
		return g.afCmp(off, size, 2, swapped)
	case ethertypeIPv6:
		b0 := g.afCmp(off, size, 24, swapped)
		b1 := g.afCmp(off, size, 28, swapped)
		b1 = g.or(b0, b1)
		b0 = g.afCmp(off, size, 30, swapped)
		return g.or(b0, b1)
	}
	return g.genFalse()
}

func (g *gen) afCmp(off uint32, size uint16, v uint32, swapped bool) *frag {
	if swapped {
		v = swap32(v)
	}
	return g.cmp(orLinkHdr, off, size, v)
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
	switch g.ll.llc {
	case llcEther:
		b0 := g.cmpLE(orLinkType, 0, cbpf.H, etherMTU)
		b1 := g.cmpNE(orLLC, 0, cbpf.H, 0xffff)
		return g.and(b0, b1)
	case llcAll:
		return g.genTrue()
	case llcWLAN:
		return g.mcmp(orLinkHdr, 0, cbpf.B, wlanTypeData, wlanTypeMask)
	case llcSunATM:
		// As in libpcap, this also ends a LANE encapsulation.
		b0 := g.atmProtoType(atmPTLLC)
		g.setLinkLayer(g.prevLT)
		return b0
	}
	g.failKwOnDLT("llc")
	return nil
}

// mplsLinktype tests the protocol after an MPLS label stack.
func (g *gen) mplsLinktype(p uint32) *frag {
	afterStack := func() *frag {
		return g.setBits(0x01, g.loadA(orPrevMPLSHdr, 2, cbpf.B))
	}
	switch p {
	case ethertypeIP:
		return g.and(afterStack(), g.ipVersion(orLinkPL, 4))
	case ethertypeIPv6:
		return g.and(afterStack(), g.ipVersion(orLinkPL, 6))
	}
	g.errorf("unsupported protocol over mpls")
	return nil
}
