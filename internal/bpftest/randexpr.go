package bpftest

import (
	"fmt"
	"math/rand/v2"
)

// RandomDLTs are the link types RandomExpr writes expressions for: the
// Ethernet header, Linux's "any" device header (v2) and raw IP.
var RandomDLTs = []string{"EN10MB", "LINUX_SLL2", "RAW"}

// RandomExpr returns a random filter expression in the language of
// pcap-filter(7) for the link type dlt (one of RandomDLTs), drawn from rng.
// The same rng state gives the same expression.
//
// The expressions combine (and, or, not, parentheses, both spellings) the
// primitives of the manual page: host, net, port and portrange with their
// protocol and direction qualifiers, the abbreviated forms that carry the
// qualifiers over ("tcp port 80 or 443"), protocol names and numbers, ether
// and IP broadcast and multicast, less, greater, vlan, mpls, pppoe, geneve
// and vxlan, the direction and interface tests of LINUX_SLL2, and
// comparisons of arithmetic over packet bytes, len and constants (with
// division, modulus and shifts by zero or by 32 and more). Addresses and
// ports come from a small set, so that packets built for them match.
// Some expressions are invalid for the link type or rejected by libpcap:
// they test that the compiler refuses what libpcap refuses.
func RandomExpr(rng *rand.Rand, dlt string) string {
	g := &exprGen{rng: rng, dlt: dlt}
	n := 1 + rng.IntN(5)
	return g.expr(n)
}

type exprGen struct {
	rng *rand.Rand
	dlt string
}

func (g *exprGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

func (g *exprGen) chance(p float64) bool { return g.rng.Float64() < p }

// expr returns an expression of about n primitives.
func (g *exprGen) expr(n int) string {
	if n <= 1 {
		if g.chance(0.12) {
			return g.pick("not ", "! ") + g.primitive()
		}
		return g.primitive()
	}
	left := 1 + g.rng.IntN(n-1)
	x, y := g.expr(left), g.expr(n-left)
	op := g.pick(" and ", " or ", " and ", " or ", " && ", " || ")
	if g.chance(0.5) {
		x = "(" + x + ")"
	}
	if g.chance(0.5) {
		y = "(" + y + ")"
	}
	e := x + op + y
	if g.chance(0.15) {
		e = g.pick("not ", "! ") + "(" + e + ")"
	}
	return e
}

// Values the primitives draw from.
var (
	randPorts  = []string{"22", "53", "80", "443", "8080", "1", "65535", "0", "1024"}
	randHosts4 = []string{"198.18.0.1", "198.18.0.2", "10.0.0.1", "192.168.1.1", "255.255.255.255", "224.0.0.1"}
	randHosts6 = []string{"2001:db8::1", "2001:db8::2", "fe80::1", "::1", "ff02::1"}
	randNets4  = []string{"10.0.0.0/8", "198.18.0.0/15", "192.168.1.0/24", "198.18.0.0/16", "10.0.0.1/32", "0.0.0.0/0", "10", "192.168", "198.18.0"}
	randNets6  = []string{"2001:db8::/32", "fe80::/10", "ff00::/8", "2001:db8::/64", "::/0"}
	randMACs   = []string{"00:11:22:33:44:55", "ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", "00:00:5e:00:01:01"}
)

func (g *exprGen) dir() string {
	switch g.rng.IntN(10) {
	case 0, 1:
		return "src "
	case 2, 3:
		return "dst "
	case 4:
		return "src or dst "
	case 5:
		return "src and dst "
	}
	return ""
}

// primitive returns one primitive.
func (g *exprGen) primitive() string {
	switch g.rng.IntN(20) {
	case 0, 1:
		return g.host()
	case 2:
		return g.net()
	case 3, 4, 5:
		return g.port()
	case 6:
		return g.portrange()
	case 7, 8:
		return g.protoName()
	case 9:
		return g.protoNumber()
	case 10, 11, 12:
		return g.relation()
	case 13:
		return g.pick("less ", "greater ") + g.pick("0", "20", "40", "54", "60", "64", "100", "1500")
	case 14:
		return g.casts()
	case 15:
		return g.encap()
	case 16:
		return g.linkSpecific()
	case 17:
		return g.flags()
	case 18:
		return g.carried()
	}
	return g.pick("ip", "ip6", "tcp", "udp", "arp", "icmp")
}

func (g *exprGen) host() string {
	d := g.dir()
	switch g.rng.IntN(8) {
	case 0:
		return "ether " + d + "host " + g.pick(randMACs...)
	case 1:
		return "ip6 " + d + "host " + g.pick(randHosts6...)
	case 2:
		return d + "host " + g.pick(randHosts6...)
	case 3:
		return g.pick("ip ", "arp ", "rarp ") + d + "host " + g.pick(randHosts4...)
	case 4:
		return d + g.pick(randHosts4...) // "host" left out
	}
	return d + "host " + g.pick(randHosts4...)
}

func (g *exprGen) net() string {
	d := g.dir()
	switch g.rng.IntN(6) {
	case 0:
		return d + "net " + g.pick(randNets6...)
	case 1:
		return d + "net " + g.pick("10.0.0.0 mask 255.0.0.0", "198.18.0.0 mask 255.254.0.0", "192.168.1.0 mask 255.255.255.0")
	case 2:
		return g.pick("ip ", "arp ", "rarp ") + d + "net " + g.pick(randNets4...)
	}
	return d + "net " + g.pick(randNets4...)
}

func (g *exprGen) port() string {
	// "ip port" is refused by libpcap: a few of those too.
	proto := g.pick("", "", "", "tcp ", "tcp ", "udp ", "udp ", "sctp ", "ip ")
	return proto + g.dir() + "port " + g.pick(randPorts...)
}

func (g *exprGen) portrange() string {
	lo := g.rng.IntN(3) * 500
	hi := lo + g.rng.IntN(1000)
	if g.chance(0.1) {
		lo, hi = hi, lo
	}
	return g.pick("", "tcp ", "udp ", "sctp ") + g.dir() + fmt.Sprintf("portrange %d-%d", lo, hi)
}

func (g *exprGen) protoName() string {
	return g.pick("ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "igmp", "igrp", "pim", "vrrp",
		"carp", "ah", "esp", "sctp", "atalk", "aarp", "decnet", "iso", "stp", "ipx", "netbeui", "lat",
		"mopdl", "moprc", "sca", "clnp", "esis", "isis", "l1", "l2", "iih", "lsp", "snp", "csnp", "psnp",
		"ip tcp", "ip6 tcp", "ip udp", "ip6 udp", "ether arp", "ether ip", "ether ip6", "llc",
		"ip proto \\tcp", "ip6 proto \\udp", "ether proto \\ip", "ether proto \\arp", "ether proto \\ip6",
		"proto \\icmp", "ether proto \\atalk")
}

func (g *exprGen) protoNumber() string {
	n := g.pick("0", "1", "6", "17", "41", "43", "44", "50", "51", "58", "59", "60", "112", "132", "255")
	switch g.rng.IntN(6) {
	case 0:
		return "ip6 proto " + n
	case 1:
		return "proto " + n
	case 2:
		return "ether proto " + g.pick("0x800", "0x86dd", "0x806", "0x8100", "2048", "1500", "100")
	case 3:
		if g.chance(0.2) {
			return g.pick("ip", "ip6", "") + " protochain " + n
		}
	}
	return "ip proto " + n
}

// casts: broadcast and multicast tests.
func (g *exprGen) casts() string {
	return g.pick("ether broadcast", "ether multicast", "ip broadcast", "ip multicast", "ip6 multicast",
		"broadcast", "multicast", "ether dst "+randMACs[1])
}

// encap: tunnel and tag keywords, which change the offsets of what
// follows them.
func (g *exprGen) encap() string {
	switch g.rng.IntN(9) {
	case 0:
		return "vlan"
	case 1:
		return "vlan " + g.pick("1", "100", "4095")
	case 2:
		return "mpls"
	case 3:
		return "mpls " + g.pick("0", "16", "1048575")
	case 4:
		return "pppoed"
	case 5:
		return g.pick("pppoes", "pppoes 1")
	case 6:
		return g.pick("geneve", "geneve 10")
	case 7:
		return g.pick("vxlan", "vxlan 10")
	}
	return "vlan and " + g.pick("ip", "tcp", "vlan", "udp port 53")
}

func (g *exprGen) linkSpecific() string {
	return g.pick("inbound", "outbound", "ifindex 1", "ifindex 3", "ether src "+randMACs[0],
		"ether proto 0x0800", "link[0] = 0", "link[0:2] != 0x0800", "ether[12:2] = 0x86dd")
}

// flags: the named header fields and their constants.
func (g *exprGen) flags() string {
	switch g.rng.IntN(6) {
	case 0:
		return "tcp[tcpflags] & " + g.pick("tcp-syn", "(tcp-syn|tcp-ack)", "tcp-fin", "tcp-rst", "tcp-push|tcp-urg") + g.pick(" != 0", " = 0", " == tcp-syn")
	case 1:
		return "icmp[icmptype] " + g.pick("= ", "!= ") + g.pick("icmp-echo", "icmp-echoreply", "icmp-unreach", "8", "0")
	case 2:
		return "icmp6[icmp6type] = " + g.pick("icmp6-echo", "icmp6-neighborsolicit", "128", "135")
	case 3:
		return "icmp[icmpcode] != 0"
	case 4:
		return "tcp[13] & 2 = 2"
	}
	return "ip[6:2] & 0x1fff = 0"
}

// carried is a primitive followed by bare values that inherit its
// qualifiers ("tcp port 80 or 443", "host A and not B").
func (g *exprGen) carried() string {
	var head string
	var vals []string
	switch g.rng.IntN(4) {
	case 0:
		head, vals = g.port(), randPorts
	case 1:
		head, vals = g.pick("", "ip ", "src ", "dst ", "ip src ")+"host "+g.pick(randHosts4...), randHosts4
	case 2:
		head, vals = g.pick("", "ip ", "dst ")+"net "+g.pick(randNets4[:5]...), randNets4[:5]
	default:
		head, vals = g.pick("tcp ", "udp ", "")+"portrange 0-1000", []string{"1000-2000", "22", "443-443"}
	}
	e := head
	for n := 1 + g.rng.IntN(3); n > 0; n-- {
		e += g.pick(" or ", " or ", " and ", " and not ", " or not ") + g.pick(vals...)
	}
	return e
}

// relation compares two arithmetic expressions.
func (g *exprGen) relation() string {
	rel := g.pick(" = ", " == ", " != ", " > ", " < ", " >= ", " <= ")
	x := g.arith(1 + g.rng.IntN(3))
	var y string
	if g.chance(0.7) {
		y = g.number()
	} else {
		y = g.arith(1 + g.rng.IntN(2))
	}
	if g.chance(0.2) {
		x, y = y, x
	}
	return x + rel + y
}

// arith returns an arithmetic expression of about n operands.
func (g *exprGen) arith(n int) string {
	if n <= 1 {
		switch g.rng.IntN(8) {
		case 0:
			return g.pick("len", "length")
		case 1:
			return g.number()
		case 2:
			return "-" + g.arith(1)
		}
		return g.access()
	}
	left := 1 + g.rng.IntN(n-1)
	op := g.pick(" + ", " - ", " * ", " / ", " % ", " & ", " | ", " ^ ", " << ", " >> ", " & ", " + ")
	x, y := g.arith(left), g.arith(n-left)
	if op == " << " || op == " >> " || op == " / " || op == " % " {
		if g.chance(0.6) {
			y = g.pick("0", "1", "2", "4", "8", "31", "32", "33", "(1 >> 1)", "(0 & 5)", "(2 - 2)")
		}
	}
	if g.chance(0.4) {
		return "(" + x + op + y + ")"
	}
	return x + op + y
}

func (g *exprGen) number() string {
	switch g.rng.IntN(6) {
	case 0:
		return g.pick("0", "1", "2", "0xff", "0xffff", "0xffffffff", "4294967295")
	case 1:
		return fmt.Sprintf("0x%x", g.rng.Uint32()>>g.rng.IntN(32))
	}
	return fmt.Sprint(g.rng.IntN(300))
}

// access is a load of packet bytes: proto[index] or proto[index:size].
func (g *exprGen) access() string {
	proto := g.pick("ether", "link", "ip", "ip", "ip6", "tcp", "tcp", "udp", "icmp", "icmp6", "sctp",
		"arp", "rarp", "igmp", "pim", "vrrp", "carp", "igrp", "radio", "ppp")
	var idx string
	switch g.rng.IntN(8) {
	case 0:
		idx = g.arith(1 + g.rng.IntN(2))
	case 1:
		idx = g.pick("tcpflags", "icmptype", "icmpcode", "icmp6type", "icmp6code")
	default:
		idx = fmt.Sprint(g.pick("0", "1", "2", "3", "4", "6", "8", "9", "12", "13", "14", "16", "20", "22", "24", "30", "40", "60", "100"))
	}
	size := g.pick("", "", "", ":1", ":2", ":4", ":3")
	return proto + "[" + idx + size + "]"
}
