package bpfcompile

import (
	"fmt"
	"strings"
)

// pqual is a protocol qualifier (ip, tcp, ether, ...).
type pqual uint8

// dqual is a direction qualifier (src, dst, src or dst, ...).
type dqual uint8

// aqual is an address-type qualifier (host, net, port, ...).
type aqual uint8

// Protocol qualifiers; qDefault means none was given.
const (
	qDefault pqual = iota
	qLink
	qIP
	qARP
	qRARP
	qSCTP
	qTCP
	qUDP
	qICMP
	qIGMP
	qIGRP
	qAtalk
	qDECnet
	qLAT
	qSCA
	qMOPRC
	qMOPDL
	qIPv6
	qICMPv6
	qAH
	qESP
	qPIM
	qVRRP
	qAARP
	qISO
	qESIS
	qISIS
	qCLNP
	qSTP
	qIPX
	qNetBEUI
	qISISL1
	qISISL2
	qISISIIH
	qISISSNP
	qISISCSNP
	qISISPSNP
	qISISLSP
	qRadio
	qCARP
	qPUndef pqual = 255
)

// Direction qualifiers.
const (
	dDefault dqual = iota
	dSrc
	dDst
	dOr
	dAnd
	dAddr1
	dAddr2
	dAddr3
	dAddr4
	dRA
	dTA
	dUndef dqual = 255
)

// Address-type qualifiers.
const (
	aDefault aqual = iota
	aHost
	aNet
	aPort
	aGateway
	aProto
	aProtochain
	aPortrange
	aUndef aqual = 255
)

var pqNames = map[pqual]string{
	qLink: "link", qIP: "ip", qARP: "arp", qRARP: "rarp", qSCTP: "sctp", qTCP: "tcp",
	qUDP: "udp", qICMP: "icmp", qIGMP: "igmp", qIGRP: "igrp", qAtalk: "atalk",
	qDECnet: "decnet", qLAT: "lat", qSCA: "sca", qMOPRC: "moprc", qMOPDL: "mopdl",
	qIPv6: "ip6", qICMPv6: "icmp6", qAH: "ah", qESP: "esp", qPIM: "pim", qVRRP: "vrrp",
	qAARP: "aarp", qISO: "iso", qESIS: "esis", qISIS: "isis", qCLNP: "clnp", qSTP: "stp",
	qIPX: "ipx", qNetBEUI: "netbeui", qISISL1: "l1", qISISL2: "l2", qISISIIH: "iih",
	qISISSNP: "snp", qISISCSNP: "csnp", qISISPSNP: "psnp", qISISLSP: "lsp",
	qRadio: "radio", qCARP: "carp",
}

func (p pqual) String() string {
	if s, ok := pqNames[p]; ok {
		return s
	}
	return fmt.Sprintf("<invalid proto %d>", p)
}

var dqNames = map[dqual]string{
	dSrc: "src", dDst: "dst", dOr: "src or dst", dAnd: "src and dst",
	dAddr1: "addr1", dAddr2: "addr2", dAddr3: "addr3", dAddr4: "addr4", dRA: "ra", dTA: "ta",
}

func (d dqual) String() string {
	if s, ok := dqNames[d]; ok {
		return s
	}
	return fmt.Sprintf("<invalid dir %d>", d)
}

var aqNames = map[aqual]string{
	aHost: "host", aNet: "net", aPort: "port", aGateway: "gateway", aProto: "proto",
	aProtochain: "protochain", aPortrange: "portrange",
}

func (a aqual) String() string {
	if s, ok := aqNames[a]; ok {
		return s
	}
	return fmt.Sprintf("<invalid type %d>", a)
}

// qual is the set of qualifiers that applies to an identifier, after the
// implicit inheritance of "host a or b".
type qual struct {
	proto pqual
	dir   dqual
	addr  aqual
}

// qualUndef is what follows a primitive that has no qualifiers to pass on
// (a protocol name, a relation, ...): an identifier may not inherit it.
var qualUndef = qual{qPUndef, dUndef, aUndef}

func (q qual) String() string {
	var parts []string
	if q.proto != qDefault {
		parts = append(parts, q.proto.String())
	}
	if q.dir != dDefault {
		parts = append(parts, q.dir.String())
	}
	if q.addr != aDefault {
		parts = append(parts, q.addr.String())
	}
	return strings.Join(parts, " ")
}

// Node is a node of the filter syntax tree. String returns a canonical
// form: every qualifier spelled out, binary operations parenthesized.
type Node interface {
	Pos() int // byte offset of the node in the expression
	String() string
}

// Arith is an arithmetic expression node.
type Arith interface {
	Node
	arith()
}

// BinaryNode is "X and Y" or "X or Y".
type BinaryNode struct {
	Off  int
	Op   string // "and" or "or"
	X, Y Node
}

// NotNode is "not X".
type NotNode struct {
	Off int
	X   Node
}

// idKind says what form an identifier had.
type idKind uint8

const (
	idName    idKind = iota // a name: host, network, port, protocol
	idNum                   // a number
	idHID                   // dotted IPv4 address (1.2.3.4, 10.1)
	idHIDLen                // dotted IPv4 with /len
	idHIDMask               // dotted IPv4 with mask dotted IPv4
	idHID6                  // IPv6 address
	idHID6Len               // IPv6 address with /len
	idEID                   // MAC-48 address
	idAID                   // $XX MAC-8 address
)

// IDNode is an identifier with the qualifiers that apply to it, for
// example "tcp dst port 80" or the "b" of "host a or b".
type IDNode struct {
	Off  int
	Text string // name or address text
	Mask string // for idHIDMask
	Num  uint32 // number, or prefix length
	// (The narrow fields last, beside Num: 48 bytes, not 56.)
	Q    qual
	Kind idKind
}

// ProtoNode is a protocol name alone, such as "tcp".
type ProtoNode struct {
	Off   int
	Proto pqual
}

// RelNode is a comparison of two arithmetic expressions.
type RelNode struct {
	Off  int
	Op   string // > >= = <= < !=
	L, R Arith
}

// OtherNode is a keyword primitive: broadcast, multicast, less, greater,
// byte, inbound, outbound, ifindex, vlan, mpls, pppoed, pppoes, geneve,
// vxlan, llc, and the primitives of link types this package has no code
// for (pf, 802.11, ATM, MTP), which only produce their errors.
type OtherNode struct {
	Off    int
	Kind   string
	Proto  pqual // for broadcast, multicast, 802.11 keywords
	HasNum bool
	Num    uint32
	Num2   uint32 // byte value
	Op     string // byte operator, relation of vpi/vci/sio...
	Name   string // llc subtype, pf names, 802.11 names
	List   []uint32
}

// NumNode is a constant.
type NumNode struct {
	Off int
	Val uint32
}

// LenNode is "len".
type LenNode struct{ Off int }

// IndexNode is "proto[expr]" or "proto[expr:size]".
type IndexNode struct {
	Off   int
	Proto pqual
	Index Arith
	Size  uint32
}

// ArithNode is a binary arithmetic operation.
type ArithNode struct {
	Off  int
	Op   string // + - * / % & | ^ << >>
	X, Y Arith
}

// NegNode is unary minus.
type NegNode struct {
	Off int
	X   Arith
}

func (n *BinaryNode) Pos() int { return n.Off }
func (n *NotNode) Pos() int    { return n.Off }
func (n *IDNode) Pos() int     { return n.Off }
func (n *ProtoNode) Pos() int  { return n.Off }
func (n *RelNode) Pos() int    { return n.Off }
func (n *OtherNode) Pos() int  { return n.Off }
func (n *NumNode) Pos() int    { return n.Off }
func (n *LenNode) Pos() int    { return n.Off }
func (n *IndexNode) Pos() int  { return n.Off }
func (n *ArithNode) Pos() int  { return n.Off }
func (n *NegNode) Pos() int    { return n.Off }

func (*NumNode) arith()   {}
func (*LenNode) arith()   {}
func (*IndexNode) arith() {}
func (*ArithNode) arith() {}
func (*NegNode) arith()   {}

func (n *BinaryNode) String() string {
	return "(" + n.X.String() + " " + n.Op + " " + n.Y.String() + ")"
}
func (n *NotNode) String() string   { return "not " + n.X.String() }
func (n *ProtoNode) String() string { return n.Proto.String() }
func (n *RelNode) String() string   { return "(" + n.L.String() + " " + n.Op + " " + n.R.String() + ")" }
func (n *NumNode) String() string   { return fmt.Sprint(n.Val) }
func (n *LenNode) String() string   { return "len" }
func (n *IndexNode) String() string {
	return fmt.Sprintf("%s[%s:%d]", n.Proto, n.Index, n.Size)
}
func (n *ArithNode) String() string {
	return "(" + n.X.String() + " " + n.Op + " " + n.Y.String() + ")"
}
func (n *NegNode) String() string { return "-" + n.X.String() }

func (n *IDNode) String() string {
	var v string
	switch n.Kind {
	case idNum:
		v = fmt.Sprint(n.Num)
	case idHIDLen, idHID6Len:
		v = fmt.Sprintf("%s/%d", n.Text, n.Num)
	case idHIDMask:
		v = n.Text + " mask " + n.Mask
	default:
		v = n.Text
	}
	if q := n.Q.String(); q != "" && n.Q != qualUndef {
		return q + " " + v
	}
	return v
}

func (n *OtherNode) String() string {
	var b strings.Builder
	if n.Proto != qDefault {
		b.WriteString(n.Proto.String() + " ")
	}
	b.WriteString(n.Kind)
	if n.Name != "" {
		b.WriteString(" " + n.Name)
	}
	if n.Op != "" && n.Kind == "byte" {
		fmt.Fprintf(&b, " %d %s %d", n.Num, n.Op, n.Num2)
		return b.String()
	}
	if n.Op != "" {
		b.WriteString(" " + n.Op)
	}
	if n.HasNum {
		fmt.Fprintf(&b, " %d", n.Num)
	}
	for _, v := range n.List {
		fmt.Fprintf(&b, " %d", v)
	}
	return b.String()
}
