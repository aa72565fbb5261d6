package bpfcompile

import (
	"strconv"
	"strings"
)

// genID generates an identifier with its qualifiers.
func (g *gen) genID(n *IDNode) *frag {
	q := n.Q
	switch n.Kind {
	case idName:
		return g.scode(n.Text, q)
	case idNum:
		return g.ncode(n.Text, true, n.Num, q)
	case idHID, idHIDLen, idHIDMask:
		what := "IPv4 address"
		switch n.Kind {
		case idHIDLen:
			what = "IPv4 address and prefix length"
		case idHIDMask:
			what = "IPv4 address and netmask"
		}
		g.checkAddrQual(q, what)
		switch n.Kind {
		case idHID:
			return g.ncode(n.Text, false, 0, q)
		case idHIDLen:
			return g.mcode(n.Text, "", n.Num, q)
		}
		return g.mcode(n.Text, n.Mask, 0, q)
	case idHID6, idHID6Len:
		what := "IPv6 address"
		l := uint32(128)
		if n.Kind == idHID6Len {
			what += " and prefix length"
			l = n.Num
		}
		g.checkAddrQual(q, what)
		return g.mcode6(n.Text, l, q)
	case idEID:
		return g.ecode(n.Text, q)
	case idAID:
		return g.acode(n.Text, q)
	}
	g.errorf("internal error: identifier kind %d", n.Kind)
	return nil
}

// checkAddrQual rejects port, portrange, proto and protochain before an
// address.
func (g *gen) checkAddrQual(q qual, what string) {
	switch q.addr {
	case aPort, aPortrange, aProto, aProtochain:
		g.errorf("'%s' qualifier applied to %s", q.addr, what)
	}
}

// atoin parses a dotted IPv4 address or prefix (1 to 4 parts) as libpcap
// does, returning the value and its length in bits, or -1.
func atoin(s string) (uint32, int) {
	var addr uint32
	l := 0
	i := 0
	for {
		var n uint32
		for i < len(s) && s[i] != '.' {
			if n > 25 {
				return 0, -1
			}
			n = n*10 + uint32(s[i]) - '0'
			i++
		}
		if n > 255 {
			return 0, -1
		}
		addr = addr<<8 | n&0xff
		l += 8
		if i >= len(s) {
			return addr, l
		}
		i++
	}
}

func shl(v uint32, n int) uint32 {
	if n >= 32 || n < 0 {
		return 0
	}
	return v << uint(n)
}

func (g *gen) decnetQualErr(q qual) {
	a := q.addr
	if a == aDefault {
		a = aHost
	}
	g.errorf("'decnet' is not a valid qualifier for '%s'", a)
}

// scode generates a name: host, network, port, protocol.
func (g *gen) scode(name string, q qual) *frag {
	if q.proto == qDECnet {
		g.decnetQualErr(q)
	}
	switch q.addr {
	case aNet:
		addr, err := g.res.LookupNet(name)
		if err != nil || addr == 0 {
			g.errorf("unknown network '%s'", name)
		}
		mask := uint32(0xffffffff)
		for addr != 0 && addr&0xff000000 == 0 {
			addr <<= 8
			mask <<= 8
		}
		return g.host([]uint32{addr}, []uint32{mask}, q.proto, q.dir, false, "net <IPv4 network name>")
	case aDefault, aHost:
		if q.proto == qLink {
			return g.mac48hostByName(name, q.dir, "link host NAME")
		}
		return g.host46ByName(name, q.proto, q.proto, q.dir, false)
	case aPort:
		g.portPQToIPProto(q.proto, aPort)
		port, real, ok := g.nameToPort(name)
		if !ok {
			g.errorf("unknown port '%s'", name)
		}
		real = g.checkPortProto(q.proto, real, "port '"+name+"'")
		if port > 65535 {
			g.errorf("illegal port number %d > 65535", port)
		}
		b := g.port(uint32(port), real, q.dir, q.addr)
		b6 := g.port6(uint32(port), real, q.dir, q.addr)
		return g.or(b6, b)
	case aPortrange:
		g.portPQToIPProto(q.proto, aPortrange)
		p1, p2, real := g.stringToPortRange(name)
		real = g.checkPortProto(q.proto, real, "port in range '"+name+"'")
		g.assertMax("port number", p1, 0xffff)
		g.assertMax("port number", p2, 0xffff)
		b := g.portRange(p1, p2, real, q.dir)
		b6 := g.portRange6(p1, p2, real, q.dir)
		return g.or(b6, b)
	case aGateway:
		return g.gateway(name, q.proto)
	case aProto:
		return g.genProto(g.lookupProto(name, q), q.proto)
	case aProtochain:
		return g.protochain(g.lookupProto(name, q), q.proto)
	case aUndef:
		g.errorf("syntax error in filter expression")
	}
	g.errorf("'%s' is not a valid qualifier for '%s'", q.addr, name)
	return nil
}

// checkPortProto reconciles the protocol a port name was found for with
// the protocol qualifier.
func (g *gen) checkPortProto(p pqual, real int, what string) int {
	name := func(pr int) string {
		switch pr {
		case ipprotoTCP:
			return "tcp"
		case ipprotoUDP:
			return "udp"
		}
		return "sctp"
	}
	var want int
	switch p {
	case qUDP:
		want = ipprotoUDP
	case qTCP:
		want = ipprotoTCP
	case qSCTP:
		want = ipprotoSCTP
	default:
		return real
	}
	if real != protoUndef && real != want {
		g.errorf("%s is %s", what, name(real))
	}
	return want
}

// nameToPort looks a service name up for TCP and UDP: the TCP port wins;
// the protocol is "any" when both have the same port.
func (g *gen) nameToPort(name string) (int, int, bool) {
	tcp, err1 := g.res.LookupPort(name, "tcp")
	if err1 != nil {
		tcp = -1
	}
	udp, err2 := g.res.LookupPort(name, "udp")
	if err2 != nil {
		udp = -1
	}
	switch {
	case tcp >= 0:
		if udp == tcp {
			return tcp, protoUndef, true
		}
		return tcp, ipprotoTCP, true
	case udp >= 0:
		return udp, ipprotoUDP, true
	}
	return 0, 0, false
}

// stringToPort converts one end of a port range: a number or a service.
func (g *gen) stringToPort(s string) (uint32, int) {
	if matchN(s) == len(s) {
		v, msg := parseNumber(s)
		if msg == "" {
			return v, protoUndef
		}
		if strings.Contains(msg, "overflows") {
			g.errorf("%s", msg)
		}
	}
	port, real, ok := g.nameToPort(s)
	if !ok {
		g.errorf("'%s' is not a valid port", s)
	}
	return uint32(port), real
}

func (g *gen) stringToPortRange(s string) (uint32, uint32, int) {
	i := strings.IndexByte(s, '-')
	if i < 0 {
		g.errorf("port range '%s' contains no hyphen", s)
	}
	if strings.IndexByte(s[i+1:], '-') >= 0 {
		g.errorf("port range '%s' contains more than one hyphen", s)
	}
	if i == 0 {
		g.errorf("port range '%s' has no starting port", s)
	}
	if i == len(s)-1 {
		g.errorf("port range '%s' has no ending port", s)
	}
	p1, r1 := g.stringToPort(s[:i])
	p2, r2 := g.stringToPort(s[i+1:])
	if r1 != r2 {
		r2 = protoUndef
	}
	return p1, p2, r2
}

// ncode generates a number or a dotted IPv4 address without mask.
func (g *gen) ncode(s string, isNum bool, v uint32, q qual) *frag {
	if q.proto == qDECnet {
		return g.dnhost(s, isNum, v, q)
	}
	var vlen int
	// The identifier for the error messages, made only for one: a
	// number's text costs an allocation on every port and protocol.
	num := v
	idstr := func() string {
		if isNum {
			return strconv.FormatUint(uint64(num), 10)
		}
		return s
	}
	if isNum {
		vlen = 32
	} else {
		v, vlen = atoin(s)
		if vlen < 0 {
			g.errorf("invalid IPv4 address '%s'", s)
		}
	}
	switch q.addr {
	case aDefault, aHost, aNet:
		if q.proto == qLink {
			g.errorf("illegal link-layer address '%s'", idstr())
		}
		mask := uint32(0xffffffff)
		if isNum && q.addr == aNet {
			for v != 0 && v&0xff000000 == 0 {
				v <<= 8
				mask <<= 8
			}
		} else {
			v = shl(v, 32-vlen)
			mask = shl(mask, 32-vlen)
		}
		ctx := "host <IPv4 address>"
		if q.addr == aNet {
			ctx = "net <IPv4 address>"
		}
		return g.host([]uint32{v}, []uint32{mask}, q.proto, q.dir, false, ctx)
	case aPort, aPortrange:
		proto := g.portPQToIPProto(q.proto, q.addr)
		g.assertMax("port number", v, 0xffff)
		b := g.port(v, proto, q.dir, q.addr)
		b6 := g.port6(v, proto, q.dir, q.addr)
		return g.or(b6, b)
	case aProto:
		return g.genProto(v, q.proto)
	case aProtochain:
		return g.protochain(v, q.proto)
	case aUndef:
		g.errorf("syntax error in filter expression")
	}
	g.errorf("'%s' is not a valid qualifier for '%s'", q.addr, idstr())
	return nil
}

// mcode generates an IPv4 prefix: "net a.b.c.d/len" or "net a.b mask m".
func (g *gen) mcode(s1, s2 string, masklen uint32, q qual) *frag {
	if q.proto == qDECnet {
		g.decnetQualErr(q)
	}
	n, nlen := atoin(s1)
	if nlen < 0 {
		g.errorf("invalid IPv4 address '%s'", s1)
	}
	n = shl(n, 32-nlen)
	var m uint32
	// The prefix as written, for the error messages only.
	idstr := func() string {
		if s2 != "" {
			return s1 + " mask " + s2
		}
		return s1 + "/" + strconv.FormatUint(uint64(masklen), 10)
	}
	if s2 != "" {
		mv, mlen := atoin(s2)
		if mlen < 0 {
			g.errorf("invalid IPv4 address '%s'", s2)
		}
		m = shl(mv, 32-mlen)
	} else {
		g.assertMax("netmask length", masklen, 32)
		m = uint32(uint64(0xffffffff) << (32 - masklen))
	}
	if n&^m != 0 {
		g.errorf("non-network bits set in \"%s\"", idstr())
	}
	if q.addr == aNet {
		return g.host([]uint32{n}, []uint32{m}, q.proto, q.dir, false, "net <IPv4 prefix>")
	}
	g.errorf("'%s' is not a valid qualifier for '%s'", q.addr, idstr())
	return nil
}

// mcode6 generates an IPv6 address or prefix.
func (g *gen) mcode6(s string, masklen uint32, q qual) *frag {
	addr, ok := parseIPv6(s)
	if !ok {
		g.errorf("'%s' is not a valid IPv6 address", s)
	}
	if masklen > 128 {
		g.errorf("mask length must be <= 128")
	}
	var mask [16]byte
	for i := uint32(0); i < masklen/8; i++ {
		mask[i] = 0xff
	}
	if masklen%8 != 0 {
		mask[masklen/8] = byte(0xff << (8 - masklen%8))
	}
	for i := range addr {
		if addr[i]&^mask[i] != 0 {
			g.errorf("non-network bits set in \"%s/%d\"", s, masklen)
		}
	}
	switch q.addr {
	case aDefault, aHost, aNet:
		if q.addr != aNet && masklen != 128 {
			g.errorf("'host' is not a valid qualifier for '%s/%d'", s, masklen)
		}
		ctx := "net <IPv6 prefix>"
		if q.addr == aHost {
			ctx = "host <IPv6 address>"
		}
		return g.host6([][16]byte{addr}, [][16]byte{mask}, q.proto, q.dir, false, ctx)
	}
	if masklen == 128 {
		g.errorf("'%s' is not a valid qualifier for '%s'", q.addr, s)
	}
	g.errorf("'%s' is not a valid qualifier for '%s/%d'", q.addr, s, masklen)
	return nil
}

// ecode generates a MAC-48 address.
func (g *gen) ecode(s string, q qual) *frag {
	const context = "link host XX:XX:XX:XX:XX:XX"
	if !((q.addr == aHost || q.addr == aDefault) && q.proto == qLink) {
		g.errorf("Ethernet address used in non-ether expression")
	}
	if !g.isMAC48() {
		g.failKwOnDLT(context)
	}
	a, ok := parseMAC48(s)
	if !ok {
		g.errorf("invalid MAC-48 address '%s'", s)
	}
	return g.mac48host(a, q.dir, context)
}

// acode generates a MAC-8 address ($XX).
func (g *gen) acode(s string, q qual) *frag {
	g.checkNonWLANDir(q.dir)
	if q.addr != aHost && q.addr != aDefault {
		g.errorf("'%s' is not a valid qualifier for '$XX'", q.addr)
	}
	if q.proto != qLink {
		g.errorf("'link' is the only valid proto qualifier for 'host $XX'")
	}
	v, ok := parseMAC8(s)
	if !ok {
		g.errorf("invalid MAC-8 address '%s'", s)
	}
	return g.mac8host(v, q.dir, "link host $XX")
}

// parseMAC8 parses "$" and one or two hex digits.
func parseMAC8(s string) (uint32, bool) {
	if len(s) < 2 || len(s) > 3 || s[0] != '$' {
		return 0, false
	}
	var v uint32
	for i := 1; i < len(s); i++ {
		c := s[i]
		var d uint32
		switch {
		case isDigit(c):
			d = uint32(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint32(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint32(c-'A') + 10
		default:
			return 0, false
		}
		v = v<<4 | d
	}
	return v, true
}
