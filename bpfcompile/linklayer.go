package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// How the generator finds its way through one link type's header: where
// the link-layer header and its payload start, how the network-layer
// protocol is announced, where the link-layer addresses are, which
// keywords apply. Most link types differ only in these facts, so each is
// a row of linkLayers; the generator's code paths are per kind of header
// (protoKind, macKind, prefixKind), not per link type.

// protoKind says how a link type announces the network-layer protocol,
// which "link proto", "ip", "arp" and the rest test.
type protoKind uint8

const (
	// protoNone: there is no such field; testing one is an error
	// ("link-layer type filtering not implemented").
	protoNone protoKind = iota
	// protoEther: an EtherType, or an 802.3 length followed by an 802.2
	// LLC header (Ethernet and Ethernet with a pseudo-header or a tag).
	protoEther
	// protoEtherType: a plain 2-byte EtherType field.
	protoEtherType
	// protoSLL: Linux cooked v1's protocol: an EtherType, or 1 (802.3)
	// or 4 (802.2 LLC) before an LLC header.
	protoSLL
	// protoLLC: an 802.2 LLC header, SNAP for EtherTypes (FDDI, Token
	// Ring, IP over Fibre Channel, LLC-encapsulated ATM).
	protoLLC
	// protoWLAN: an 802.11 data frame, then LLC as protoLLC.
	protoWLAN
	// protoSunATM: an LLC-encapsulated PDU (the pseudo-header's protocol
	// type), then LLC as protoLLC.
	protoSunATM
	// protoIPVersion: IPv4 or IPv6 only, told apart by the version nibble
	// (raw IP, SLIP).
	protoIPVersion
	// protoIPv4Only, protoIPv6Only: every packet is of one IP version.
	protoIPv4Only
	protoIPv6Only
	// protoPPP: a PPP protocol number (EtherTypes mapped to PPP's).
	protoPPP
	// protoPPPBSDOS: as protoPPP, and IPv4 includes Van Jacobson
	// compressed and uncompressed TCP.
	protoPPPBSDOS
	// protoCHDLC: Cisco HDLC's EtherType field; OSI is 0xfefe.
	protoCHDLC
	// protoAF: a 4-byte BSD address family (loopback, OpenBSD enc).
	protoAF
	// protoPFLOG: pflog's 1-byte address family.
	protoPFLOG
	// protoARCnet: ARCnet's 1-byte system code (RFC 1201 values).
	protoARCnet
	// protoLTalk: LocalTalk carries AppleTalk only.
	protoLTalk
	// protoFRelay: a Frame Relay NLPID (Q.922 UI frames).
	protoFRelay
	// protoJuniper: only the Juniper magic cookie can be checked.
	protoJuniper
	// protoIPNet: Solaris ipnet's 1-byte address family.
	protoIPNet
)

// macKind says where a link type keeps its link-layer addresses.
type macKind uint8

const (
	macNone macKind = iota
	mac48           // 6-byte addresses at fixed offsets
	macWLAN         // 802.11: which address field is the source or destination depends on the frame
	mac8            // 1-byte addresses (ARCnet, BACnet MS/TP)
)

// prefixKind is a variable-length radio header before an 802.11 header.
type prefixKind uint8

const (
	prefixNone     prefixKind = iota
	prefixRadiotap            // little-endian length at offset 2
	prefixAVS                 // big-endian length at offset 4
	prefixPrism               // 144 bytes, or an AVS header (told by its cookie)
	prefixPPI                 // little-endian length at offset 2; the DLT field must say 802.11
)

// llcKind says what "llc" tests.
type llcKind uint8

const (
	llcNone   llcKind = iota // "llc" is an error
	llcEther                 // an 802.3 length and an LLC header that is not Novell's raw 802.3
	llcAll                   // every frame has an LLC header
	llcWLAN                  // 802.11 data frames
	llcSunATM                // LLC-encapsulated ATM PDUs
)

// dirTest is how "inbound" and "outbound" are tested when the link-layer
// header records the direction: (field & mask) == value at off, and for
// inbound either its own value and mask or the negated outbound test.
type dirTest struct {
	off             uint32
	size            uint16
	out, outMask    uint32
	in, inMask      uint32
	inIsNotOutbound bool
}

// ss7Offsets are the offsets of the MTP2 and MTP3 fields in the packet.
type ss7Offsets struct {
	li, liHSL, sio, opc, dpc, sls uint32
}

// linkLayer is one link type's row: the facts the generator needs.
type linkLayer struct {
	// hdr is the offset of the link-layer header: past a fixed
	// pseudo-header, or the constant part after a variable prefix.
	hdr uint32
	// typ is the offset of the protocol field (for LLC kinds: of the LLC
	// header); offsetNotSet when there is none.
	typ uint32
	// payload is the offset of the link-layer payload; offsetNotSet when
	// it is not known.
	payload uint32
	// payloadVar: the payload offset is computed at run time (802.11's
	// header length, pflog's header length).
	payloadVar bool
	// nl and nlNoSNAP are the offsets of the network-layer header in the
	// payload, after an LLC/SNAP header and after a plain LLC header.
	nl, nlNoSNAP uint32
	prefix       prefixKind
	proto        protoKind
	// afHostOrder: protoAF's word is in the capturing host's byte order
	// (DLT_NULL, DLT_ENC), not in network byte order (DLT_LOOP).
	afHostOrder bool

	mac            macKind
	srcOff, dstOff uint32 // mac48 and mac8 address offsets
	// mcastOff is the offset of the byte whose low bit marks a mac48
	// multicast address (the destination's first byte).
	mcastOff uint32
	// bcast8 is a mac8 link type's broadcast address; mcast8 says that
	// "multicast" is the broadcast address there.
	bcast8 uint8
	mcast8 bool

	// ether: Ethernet with or without a pseudo-header or a tag, whose
	// MAC addresses and multicast are tested as Ethernet's, with the
	// check of an encapsulated frame (LANE, a tunnel) where there is one.
	ether bool
	// vlan: "vlan" reads tags in the frame.
	vlan bool
	// mpls is the protocol value an MPLS label stack has, 0 when "mpls"
	// is an error.
	mpls uint32
	llc  llcKind
	// dir tests "inbound"/"outbound"; nil means the Linux ancillary
	// packet type of a live capture.
	dir *dirTest
	// ss7 is non-nil for the SS7 link types (MTP2 fields).
	ss7 *ss7Offsets
	// atm: SunATM's pseudo-header (vpi, vci, LANE, ...).
	atm bool
	// pflog: OpenBSD pflog's header fields (ifname, ruleset, ...).
	pflog bool
	// isoNLPID: ISO protocols follow an NLPID at offset 3 of the link
	// header (Frame Relay) rather than an LLC header.
	isoNLPID bool
	// isoOffset is added to the offset of the ISO protocol and IS-IS PDU
	// type (Cisco HDLC has no LLC control byte before them).
	isoOffset uint32
}

// Solaris ipnet's address-family values.
const (
	ipnetAFInet  = 2
	ipnetAFInet6 = 26
)

// Offsets of the fields of OpenBSD's pflog header.
const (
	pflogAF        = 1
	pflogAction    = 2
	pflogReason    = 3
	pflogIfname    = 4
	pflogRuleset   = 20
	pflogRulenr    = 36
	pflogSubrulenr = 40
	pflogDir       = 60
	pflogNameLen   = 16
)

// Direction values of the headers that record one.
const (
	slipDirIn, slipDirOut   = 0, 1
	pppdDirIn, pppdDirOut   = 0, 1
	pfDirIn, pfDirOut       = 1, 2
	ipnetDirOut, ipnetDirIn = 1, 2
)

// dirValues is a direction field at off whose value is out for outbound
// and in for inbound packets.
func dirValues(off uint32, size uint16, out, in uint32) *dirTest {
	return &dirTest{off: off, size: size, out: out, outMask: 0xffffffff, in: in, inMask: 0xffffffff}
}

// dirOutgoing is a packet type field at off whose value is out for
// outbound packets; every other value is inbound.
func dirOutgoing(off uint32, size uint16, out uint32) *dirTest {
	return &dirTest{off: off, size: size, out: out, outMask: 0xffffffff, inIsNotOutbound: true}
}

// dirBits is a direction in bits of the byte at off.
func dirBits(off, out, outMask, in, inMask uint32) *dirTest {
	return &dirTest{off: off, size: cbpf.B, out: out, outMask: outMask, in: in, inMask: inMask}
}

// llEthernet is Ethernet; llNoLinkLayer a link type whose header the
// generator knows nothing of.
var (
	llEthernet = linkLayer{typ: 12, payload: 14, nlNoSNAP: 3, proto: protoEther,
		mac: mac48, srcOff: 6, dstOff: 0, mcastOff: 0, ether: true, vlan: true,
		mpls: ethertypeMPLS, llc: llcEther}
	llNoLinkLayer = linkLayer{typ: offsetNotSet, payload: offsetNotSet, nl: offsetNotSet, nlNoSNAP: offsetNotSet, proto: protoNone}
)

// linkTypeRedbackSmartEdge is outside libpcap's ranges but known to it
// (with "link[N:M]" only, too).
const linkTypeRedbackSmartEdge = 32

// linkLayerRow returns the row of lt, and false for a link type libpcap
// refuses ("unknown data link type").
func linkLayerRow(lt LinkType) (linkLayer, bool) {
	if r, ok := linkLayers[lt]; ok {
		return r, true
	}
	// Other link types of libpcap's matching ranges (DLT_NULL..DLT_FDDI
	// and 104..304) allow only "link[N:M]" and the keywords that do not
	// look into the header.
	if lt <= 10 || lt >= 104 && lt <= 304 || lt == linkTypeRedbackSmartEdge {
		return llNoLinkLayer, true
	}
	return linkLayer{}, false
}

// taggedEthernetRow is Ethernet with a tag of 4 bytes after the addresses
// (a switch's DSA tag) whose bits say the direction.
func taggedEthernetRow(dir *dirTest) linkLayer {
	r := llEthernet
	r.typ, r.payload, r.dir = 16, 18, dir
	return r
}

// netAnalyzerRow is Ethernet behind hdr bytes of Hilscher pseudo-header.
func netAnalyzerRow(hdr uint32) linkLayer {
	r := llEthernet
	r.hdr, r.typ, r.payload, r.llc = hdr, hdr+12, hdr+14, llcNone
	return r
}

// wlanRow is 802.11 with or without a radio header.
func wlanRow(p prefixKind) linkLayer {
	return linkLayer{typ: 24, payloadVar: true, nl: 8, nlNoSNAP: 3, prefix: p,
		proto: protoWLAN, mac: macWLAN, llc: llcWLAN, vlan: p != prefixPPI}
}

// llcRow is a link type whose payload starts with an 802.2 LLC header at
// off, with MAC-48 addresses at src and dst if mac.
func llcRow(off uint32, mac bool, src, dst uint32, llc llcKind) linkLayer {
	r := linkLayer{typ: off, payload: off, nl: 8, nlNoSNAP: 3, proto: protoLLC, llc: llc}
	if mac {
		r.mac, r.srcOff, r.dstOff, r.mcastOff = mac48, src, dst, dst
	}
	return r
}

// sunATMRow is SunATM's pseudo-header before an LLC header.
func sunATMRow() linkLayer {
	r := llcRow(sunatmPayload, false, 0, 0, llcSunATM)
	r.proto, r.atm = protoSunATM, true
	return r
}

// arcnetRow is an ARCnet header with its system code at typ.
func arcnetRow(typ, payload uint32) linkLayer {
	return linkLayer{typ: typ, payload: payload, proto: protoARCnet,
		mac: mac8, srcOff: 0, dstOff: 1, bcast8: 0, mcast8: true}
}

// bacnetRow is BACnet MS/TP: only its addresses are known.
func bacnetRow() linkLayer {
	r := llNoLinkLayer
	r.mac, r.srcOff, r.dstOff, r.bcast8 = mac8, 4, 3, 0xff
	return r
}

// pppRow is a PPP header with its protocol field at typ.
func pppRow(typ, payload uint32) linkLayer {
	return linkLayer{typ: typ, payload: payload, proto: protoPPP}
}

// juniperRow is a Juniper PIC header: a magic cookie, the direction in
// the low bit of its fourth byte.
func juniperRow(typ, payload, nl, nlNoSNAP uint32) linkLayer {
	return linkLayer{typ: typ, payload: payload, nl: nl, nlNoSNAP: nlNoSNAP, proto: protoJuniper,
		dir: dirBits(3, 0, 0x01, 1, 0x01)}
}

// ss7Row is MTP2 at offset off (after a pseudo-header).
func ss7Row(off uint32) linkLayer {
	r := llNoLinkLayer
	r.ss7 = &ss7Offsets{li: off + 2, liHSL: off + 4, sio: off + 3, opc: off + 4, dpc: off + 4, sls: off + 7}
	return r
}

// linkLayers are the rows by link type; link types of libpcap's ranges
// without a row are llNoLinkLayer.
var linkLayers = map[LinkType]linkLayer{
	0:   {payload: 4, proto: protoAF, afHostOrder: true},                                         // NULL
	108: {payload: 4, proto: protoAF},                                                            // LOOP
	109: {payload: 12, proto: protoAF, afHostOrder: true},                                        // ENC
	101: {typ: offsetNotSet, proto: protoIPVersion},                                              // RAW
	228: {typ: offsetNotSet, proto: protoIPv4Only},                                               // IPV4
	229: {typ: offsetNotSet, proto: protoIPv6Only},                                               // IPV6
	113: {typ: 14, payload: 16, proto: protoSLL, dir: dirOutgoing(0, cbpf.H, sllOutgoing)},       // LINUX_SLL
	276: {typ: 0, payload: 20, proto: protoEtherType, dir: dirOutgoing(10, cbpf.B, sllOutgoing)}, // LINUX_SLL2

	1:   llEthernet,                                          // EN10MB
	240: netAnalyzerRow(4),                                   // NETANALYZER: a 4-byte pseudo-header
	241: netAnalyzerRow(12),                                  // NETANALYZER_TRANSPARENT: and the preamble and SFD
	281: taggedEthernetRow(dirBits(12, 0x20, 0xe0, 0, 0xe0)), // DSA_TAG_BRCM
	284: taggedEthernetRow(dirBits(12, 0x40, 0xc0, 0, 0x40)), // DSA_TAG_DSA

	10:  llcRow(13, true, 7, 1, llcAll),   // FDDI
	6:   llcRow(14, true, 8, 2, llcAll),   // IEEE802 (Token Ring)
	122: llcRow(16, true, 10, 2, llcNone), // IP_OVER_FC
	100: llcRow(0, false, 0, 0, llcAll),   // ATM_RFC1483
	106: llcRow(0, false, 0, 0, llcNone),  // ATM_CLIP
	123: sunATMRow(),                      // SUNATM
	105: wlanRow(prefixNone),              // IEEE802_11
	119: wlanRow(prefixPrism),             // PRISM_HEADER
	163: wlanRow(prefixAVS),               // IEEE802_11_RADIO_AVS
	127: wlanRow(prefixRadiotap),          // IEEE802_11_RADIO
	192: wlanRow(prefixPPI),               // PPI
	7:   arcnetRow(2, 6),                  // ARCNET
	129: arcnetRow(4, 8),                  // ARCNET_LINUX
	165: bacnetRow(),                      // BACNET_MS_TP

	8:   {typ: offsetNotSet, payload: 16, proto: protoIPVersion, dir: dirValues(0, cbpf.B, slipDirOut, slipDirIn)},            // SLIP
	102: {typ: offsetNotSet, payload: 24, proto: protoIPVersion},                                                              // SLIP_BSDOS
	9:   {typ: 2, payload: 4, proto: protoPPP, mpls: pppMPLSUcast},                                                            // PPP
	166: {typ: 2, payload: 4, proto: protoPPP, dir: dirValues(0, cbpf.B, pppdDirOut, pppdDirIn)},                              // PPP_PPPD
	50:  pppRow(2, 4),                                                                                                         // PPP_SERIAL
	51:  pppRow(6, 8),                                                                                                         // PPP_ETHER
	103: {typ: 5, payload: 24, proto: protoPPPBSDOS},                                                                          // PPP_BSDOS
	104: {typ: 2, payload: 4, proto: protoCHDLC, mpls: ethertypeMPLS, isoOffset: 1},                                           // C_HDLC
	107: {typ: offsetNotSet, proto: protoFRelay, isoNLPID: true},                                                              // FRELAY
	182: {typ: offsetNotSet, nl: 4},                                                                                           // MFR
	114: {typ: offsetNotSet, proto: protoLTalk},                                                                               // LTALK
	138: {typ: 16, payload: 18, proto: protoEtherType},                                                                        // APPLE_IP_OVER_IEEE1394
	99:  {typ: 6, payload: 44, proto: protoEtherType},                                                                         // SYMANTEC_FIREWALL
	226: {typ: 1, payload: 24, nlNoSNAP: offsetNotSet, proto: protoIPNet, dir: dirValues(2, cbpf.H, ipnetDirOut, ipnetDirIn)}, // IPNET
	246: {typ: offsetNotSet, payload: 4},                                                                                      // PFSYNC
	117: {payloadVar: true, proto: protoPFLOG, pflog: true, dir: dirValues(pflogDir, cbpf.B, pfDirOut, pfDirIn)},              // PFLOG

	140: ss7Row(0),  // MTP2
	139: ss7Row(4),  // MTP2_WITH_PHDR
	197: ss7Row(20), // ERF

	134: juniperRow(4, 4, 0, offsetNotSet),                        // JUNIPER_MFR
	131: juniperRow(4, 4, 0, offsetNotSet),                        // JUNIPER_MLFR
	130: juniperRow(4, 4, 0, offsetNotSet),                        // JUNIPER_MLPPP
	179: juniperRow(4, 4, 0, offsetNotSet),                        // JUNIPER_PPP
	181: juniperRow(4, 4, 0, offsetNotSet),                        // JUNIPER_CHDLC
	180: juniperRow(4, 4, 0, offsetNotSet),                        // JUNIPER_FRELAY
	137: juniperRow(4, 4, 0, 10),                                  // JUNIPER_ATM1
	135: juniperRow(8, 8, 0, 10),                                  // JUNIPER_ATM2
	167: juniperRow(16, 14, 18, 21),                               // JUNIPER_PPPOE
	178: juniperRow(16, 14, 18, 21),                               // JUNIPER_ETHER
	168: juniperRow(4, 6, 0, offsetNotSet),                        // JUNIPER_PPPOE_ATM
	133: juniperRow(6, 12, 0, offsetNotSet),                       // JUNIPER_GGSN
	132: juniperRow(6, offsetNotSet, offsetNotSet, offsetNotSet),  // JUNIPER_ES
	164: juniperRow(12, 12, 0, offsetNotSet),                      // JUNIPER_MONITOR
	136: juniperRow(12, offsetNotSet, offsetNotSet, offsetNotSet), // JUNIPER_SERVICES
	183: juniperRow(18, offsetNotSet, offsetNotSet, offsetNotSet), // JUNIPER_VP
	200: juniperRow(18, offsetNotSet, offsetNotSet, offsetNotSet), // JUNIPER_ST
	194: juniperRow(8, offsetNotSet, offsetNotSet, offsetNotSet),  // JUNIPER_ISM
	232: juniperRow(8, offsetNotSet, offsetNotSet, offsetNotSet),  // JUNIPER_VS
	233: juniperRow(8, offsetNotSet, offsetNotSet, offsetNotSet),  // JUNIPER_SRX_E2E
	234: juniperRow(8, offsetNotSet, offsetNotSet, offsetNotSet),  // JUNIPER_FIBRECHANNEL
	238: juniperRow(8, offsetNotSet, offsetNotSet, offsetNotSet),  // JUNIPER_ATM_CEMIC
}
