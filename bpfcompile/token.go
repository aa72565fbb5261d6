package bpfcompile

// tokKind is the kind of a lexical token of the filter language.
type tokKind uint8

// Token kinds. Keyword kinds follow libpcap's scanner; several spellings can
// map to one kind (ether, ppp, slip, fddi, tr, wlan are all tLINK).
const (
	tInvalid tokKind = iota
	tEOF
	tError // lexical error; token text is the message
	tNum
	tID
	tHID  // IPv4 address or prefix in dotted form (1 to 4 parts)
	tHID6 // IPv6 address
	tEID  // MAC-48 address
	tAID  // $XX MAC-8 address
	// operators and punctuation
	tPlus
	tMinus
	tStar
	tSlash
	tPercent
	tColon
	tLBrack
	tRBrack
	tNot // ! or not
	tLT
	tGT
	tLParen
	tRParen
	tAmp
	tPipe
	tCaret
	tEQ // = or ==
	tGEQ
	tLEQ
	tNEQ
	tLSH
	tRSH
	tAnd // and, &&
	tOr  // or, ||
	// direction, address and other qualifiers
	tDst
	tSrc
	tHost
	tNet
	tNetmask
	tPort
	tPortrange
	tProto
	tProtochain
	tGateway
	tType
	tSubtype
	tDir
	tAddr1
	tAddr2
	tAddr3
	tAddr4
	tRA
	tTA
	tLess
	tGreater
	tByte
	tBroadcast
	tMulticast
	tLen
	tInbound
	tOutbound
	tIfindex
	tVlan
	tMpls
	tPppoed
	tPppoes
	tGeneve
	tVxlan
	tLLC
	tPFIfname
	tPFRset
	tPFRnr
	tPFSrnr
	tPFReason
	tPFAction
	tATMType  // lane metac bcc oamf4ec oamf4sc sc ilmic
	tATMMulti // oam oamf4 connectmsg metaconnect
	tATMField // vpi vci
	tMTP2Type // fisu lssu msu hfisu hlssu hmsu
	tMTP3Field
	// protocol names (pname); the token value is the proto qualifier
	tPName
)

// token is one lexical token.
type token struct {
	kind tokKind
	pq   pqual  // proto qualifier of tPName
	num  uint32 // value of tNum
	off  int    // byte offset of the token in the source
	text string // source text (for tID without the leading backslash)
}

// keywords maps the reserved words of the language to their token kinds.
// tPName words carry their proto qualifier in pnames.
var keywords = map[string]tokKind{
	"dst": tDst, "src": tSrc,
	"host": tHost, "net": tNet, "mask": tNetmask, "port": tPort, "portrange": tPortrange,
	"proto": tProto, "protochain": tProtochain, "gateway": tGateway,
	"type": tType, "subtype": tSubtype, "direction": tDir, "dir": tDir,
	"address1": tAddr1, "addr1": tAddr1, "address2": tAddr2, "addr2": tAddr2,
	"address3": tAddr3, "addr3": tAddr3, "address4": tAddr4, "addr4": tAddr4,
	"ra": tRA, "ta": tTA,
	"less": tLess, "greater": tGreater, "byte": tByte,
	"broadcast": tBroadcast, "multicast": tMulticast,
	"and": tAnd, "or": tOr, "not": tNot,
	"len": tLen, "length": tLen, "inbound": tInbound, "outbound": tOutbound, "ifindex": tIfindex,
	"vlan": tVlan, "mpls": tMpls, "pppoed": tPppoed, "pppoes": tPppoes, "geneve": tGeneve, "vxlan": tVxlan,
	"llc":  tLLC,
	"lane": tATMType, "metac": tATMType, "bcc": tATMType, "oamf4ec": tATMType, "oamf4sc": tATMType,
	"sc": tATMType, "ilmic": tATMType,
	"oam": tATMMulti, "oamf4": tATMMulti, "connectmsg": tATMMulti, "metaconnect": tATMMulti,
	"vpi": tATMField, "vci": tATMField,
	"on": tPFIfname, "ifname": tPFIfname, "rset": tPFRset, "ruleset": tPFRset,
	"rnr": tPFRnr, "rulenum": tPFRnr, "srnr": tPFSrnr, "subrulenum": tPFSrnr,
	"reason": tPFReason, "action": tPFAction,
	"fisu": tMTP2Type, "lssu": tMTP2Type, "lsu": tMTP2Type, "msu": tMTP2Type,
	"hfisu": tMTP2Type, "hlssu": tMTP2Type, "hmsu": tMTP2Type,
	"sio": tMTP3Field, "opc": tMTP3Field, "dpc": tMTP3Field, "sls": tMTP3Field,
	"hsio": tMTP3Field, "hopc": tMTP3Field, "hdpc": tMTP3Field, "hsls": tMTP3Field,
}

// pnames maps protocol-name keywords to their proto qualifier.
var pnames = map[string]pqual{
	"link": qLink, "ether": qLink, "ppp": qLink, "slip": qLink, "fddi": qLink, "tr": qLink, "wlan": qLink,
	"ip": qIP, "arp": qARP, "rarp": qRARP, "sctp": qSCTP, "tcp": qTCP, "udp": qUDP,
	"icmp": qICMP, "igmp": qIGMP, "igrp": qIGRP, "pim": qPIM, "vrrp": qVRRP, "carp": qCARP,
	"radio": qRadio, "ip6": qIPv6, "icmp6": qICMPv6, "ah": qAH, "esp": qESP,
	"atalk": qAtalk, "aarp": qAARP, "decnet": qDECnet, "lat": qLAT, "sca": qSCA,
	"moprc": qMOPRC, "mopdl": qMOPDL, "iso": qISO, "esis": qESIS, "es-is": qESIS,
	"isis": qISIS, "is-is": qISIS, "l1": qISISL1, "l2": qISISL2, "iih": qISISIIH,
	"lsp": qISISLSP, "snp": qISISSNP, "csnp": qISISCSNP, "psnp": qISISPSNP,
	"clnp": qCLNP, "stp": qSTP, "ipx": qIPX, "netbeui": qNetBEUI,
}

// numWords are the named constants the scanner turns into numbers.
var numWords = map[string]uint32{
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
	"icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
	"icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
	"icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
	"icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
	"icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
	"icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
	"icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
	"icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
	"icmp6-multicastrouterterm": 153,
	"tcpflags":                  13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}

// describe returns a short description of the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tNum:
		return "number " + t.text
	}
	return "'" + t.text + "'"
}
