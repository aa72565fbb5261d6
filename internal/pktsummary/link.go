package pktsummary

import (
	"encoding/binary"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// EtherTypes the printer decodes or names.
const (
	etIPv4     = 0x0800
	etARP      = 0x0806
	etRARP     = 0x8035
	etIPv6     = 0x86dd
	etVLAN     = 0x8100
	etQinQ     = 0x88a8
	etVLAN9100 = 0x9100
	etVLAN9200 = 0x9200
	etLLDP     = 0x88cc
)

// etherTypeName is tcpdump's name of an EtherType ("" if it has none).
func etherTypeName(et uint16) string {
	switch et {
	case etIPv4:
		return "IPv4"
	case 0x8847:
		return "MPLS unicast"
	case 0x8848:
		return "MPLS multicast"
	case etIPv6:
		return "IPv6"
	case etVLAN:
		return "802.1Q"
	case etVLAN9100:
		return "802.1Q-9100"
	case etQinQ:
		return "802.1Q-QinQ"
	case etVLAN9200:
		return "802.1Q-9200"
	case 0x88e5:
		return "802.1AE MACsec"
	case etARP:
		return "ARP"
	case etRARP:
		return "Reverse ARP"
	case 0x8137:
		return "IPX"
	case 0x880b:
		return "PPP"
	case 0x8809:
		return "Slow Protocols"
	case 0x8863:
		return "PPPoE D"
	case 0x8864:
		return "PPPoE S"
	case 0x888e:
		return "EAPOL"
	case 0x9000:
		return "Loopback"
	case etLLDP:
		return "LLDP"
	case 0x88f7:
		return "PTP"
	case 0x8902:
		return "CFM"
	case 0x894f:
		return "NSH"
	}
	return ""
}

// etherType prints tcpdump's "ethertype NAME (0x0800)".
func (d *dec) etherType(et uint16) {
	d.s("ethertype ")
	if n := etherTypeName(et); n != "" {
		d.s(n)
	} else {
		d.s("Unknown")
	}
	d.s(" (0x")
	d.hex(uint64(et), 4)
	d.s(")")
}

// hex appends v in lower-case hex, at least width digits.
func (d *dec) hex(v uint64, width int) {
	const digits = "0123456789abcdef"
	n := 1
	for x := v >> 4; x != 0; x >>= 4 {
		n++
	}
	for ; width > n; width-- {
		d.out = append(d.out, '0')
	}
	for i := n - 1; i >= 0; i-- {
		d.out = append(d.out, digits[(v>>(4*i))&0xf])
	}
}

// mac appends a link-layer address as tcpdump does: hex bytes and colons.
func (d *dec) mac(b []byte) {
	for i, c := range b {
		if i > 0 {
			d.out = append(d.out, ':')
		}
		d.hex(uint64(c), 2)
	}
}

// ether decodes an Ethernet frame (tcpdump without -e: the addresses only
// for a payload it cannot decode).
func (d *dec) ether(b []byte, wire int) {
	d.proto = "ether"
	if len(b) < 14 {
		d.trunc()
		d.hdr = len(b)
		return
	}
	src, dst := b[6:12], b[0:6]
	eflag := d.p.opts.LinkHeader
	if eflag {
		d.macs(src, dst)
	}
	length := wire - 12
	p := b[12:]
	et := be16(p, 0)
	p, length = p[2:], length-2
	printedLength := false
	// afterType is what -e prints after an EtherType: the frame's length
	// after the first, a comma after the others.
	afterType := func() {
		if printedLength {
			d.s(", ")
			return
		}
		d.s(", length ")
		d.u(uint64(wire))
		d.s(": ")
		printedLength = true
	}
	for et == etVLAN || et == etVLAN9100 || et == etVLAN9200 || et == etQinQ {
		if len(p) < 4 || length < 4 {
			d.proto = "vlan"
			d.trunc()
			d.hdr = len(b)
			return
		}
		if eflag {
			d.etherTypeQ(et)
			afterType()
			d.vlanTCI(be16(p, 0))
		}
		et = be16(p, 2)
		p, length = p[4:], length-4
	}
	d.hdr = len(b) - len(p) // after the payload's decoding: 0 if it stops
	if et <= 1500 {
		// 802.3 with an LLC header: STP, IPX, NetBIOS, ...; not
		// decoded here.
		length = min(length, int(et))
		if eflag {
			d.s("802.3")
			if !printedLength {
				d.s(", length ")
				d.u(uint64(length))
				d.s(": ")
			}
		}
		d.s("802.3, length ")
		d.u(uint64(length))
		return
	}
	if eflag {
		d.etherTypeQ(et)
		afterType()
	}
	if d.etherPayload(et, p, length) {
		return
	}
	if !eflag {
		d.macs(src, dst)
		d.etherTypeQ(et)
		d.s(", length ")
		d.u(uint64(wire))
		d.s(": ")
	}
	d.hexDump(p)
}

// macs prints tcpdump's "src > dst, " of a link-level header.
func (d *dec) macs(src, dst []byte) {
	d.mac(src)
	d.s(" > ")
	d.mac(dst)
	d.s(", ")
}

// etherTypeQ prints an EtherType as tcpdump does, by name only with -q.
func (d *dec) etherTypeQ(et uint16) {
	if !d.p.opts.Quick {
		d.etherType(et)
		return
	}
	if n := etherTypeName(et); n != "" {
		d.s(n)
		return
	}
	d.s("Unknown Ethertype (0x")
	d.hex(uint64(et), 4)
	d.s(")")
}

// vlanTCI prints an 802.1Q tag's "vlan 20, p 0, " (", DEI" when set).
func (d *dec) vlanTCI(tci uint16) {
	d.s("vlan ")
	d.u(uint64(tci & 0xfff))
	d.s(", p ")
	d.u(uint64(tci >> 13))
	if tci&0x1000 != 0 {
		d.s(", DEI")
	}
	d.s(", ")
}

// etherPayload decodes the payload of an EtherType, false for one it
// does not know.
func (d *dec) etherPayload(et uint16, p []byte, length int) bool {
	switch et {
	case etIPv4:
		d.ip4(p, length)
	case etIPv6:
		d.ip6(p, length)
	case etARP, etRARP:
		d.arp(p, length)
	case etLLDP:
		d.proto = "lldp"
		d.s("LLDP, length ")
		d.u(uint64(length))
		// tcpdump walks the TLVs up to the end TLV even when it prints
		// none of them.
		for off, rest := 0, length; rest >= 2; {
			check(p, off, 2)
			tlv := be16(p, off)
			typ, n := tlv>>9, int(tlv&0x1ff)
			off, rest = off+2, rest-2
			if typ == 0 || n == 0 {
				break
			}
			check(p, off, n)
			if rest < n {
				d.trunc()
				break
			}
			off, rest = off+n, rest-n
		}
	default:
		return false
	}
	return true
}

// hexDump is tcpdump's default print of bytes it does not decode:
// further lines of 16 bytes in hex and ASCII.
func (d *dec) hexDump(b []byte) {
	if d.p.opts.Quick || d.p.opts.Dump == DumpHex || d.p.opts.Dump == DumpHexASCII {
		return // tcpdump -q, -x and -X print no hex dumps of payloads
	}
	d.hexASCII(b)
}

// pktTypeName is tcpdump's name of a Linux cooked header's packet type.
func pktTypeName(t uint16) string {
	switch t {
	case 0:
		return "In"
	case 1:
		return "B"
	case 2:
		return "M"
	case 3:
		return "P"
	case 4:
		return "Out"
	}
	return "?"
}

// sll decodes a LINUX_SLL header: without -e tcpdump prints nothing of it
// unless the protocol is one it does not decode.
func (d *dec) sll(b []byte, wire int) {
	d.proto = "sll"
	need(b, 0, sllLen)
	d.cooked(binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b[14:]), b[sllLen:], wire, sllLen, func(length int) {
		d.s(rpad3(pktTypeName(binary.BigEndian.Uint16(b[0:])))) // "%3s": right-aligned here
		d.s(" ")
		if binary.BigEndian.Uint16(b[4:]) == 6 {
			d.mac(b[6:12])
			d.s(" ")
		}
		d.cookedProto(binary.BigEndian.Uint16(b[14:]), length)
	})
}

// sll2 decodes a LINUX_SLL2 header: tcpdump -i any prints the interface
// and the direction first ("eth0  In  ").
func (d *dec) sll2(b []byte, wire int) {
	d.proto = "sll2"
	need(b, 0, sll2Len)
	idx := binary.BigEndian.Uint32(b[4:])
	name := "?"
	if d.p.ifName != nil {
		if n, ok := d.p.ifName(int(idx)); ok {
			name = n
		}
	}
	d.s(name)
	for i := len(name); i < 5; i++ {
		d.out = append(d.out, ' ')
	}
	d.s(" ")
	d.s(pad3(pktTypeName(uint16(b[10]))))
	d.s(" ")
	d.cooked(binary.BigEndian.Uint16(b[8:]), binary.BigEndian.Uint16(b[0:]), b[sll2Len:], wire, sll2Len, func(length int) {
		d.s("ifindex ")
		d.u(uint64(idx))
		d.s(" ")
		if b[11] == 6 {
			d.mac(b[12:18])
			d.s(" ")
		}
		d.cookedProto(binary.BigEndian.Uint16(b[0:]), length)
	})
}

// rpad3 is tcpdump's "%3s" of a packet type name.
func rpad3(s string) string {
	switch s {
	case "In":
		return " In"
	case "B", "M", "P", "?":
		return "  " + s
	}
	return s
}

// pad3 is tcpdump's "%-3s" of a packet type name.
func pad3(s string) string {
	switch s {
	case "In":
		return "In "
	case "B", "M", "P", "?":
		return s + "  "
	}
	return s
}

// cookedProto prints the protocol of a cooked header as tcpdump's -e
// does, before the hex dump of a payload it cannot decode.
func (d *dec) cookedProto(et uint16, wire int) {
	if d.p.opts.Quick {
		return
	}
	switch {
	case et == 1:
		d.s("802.3")
	case et == 4:
		d.s("802.2")
	case et <= 1500:
		d.s("ethertype Unknown (0x")
		d.hex(uint64(et), 4)
		d.s(")")
	default:
		d.etherType(et)
	}
	d.s(", length ")
	d.u(uint64(wire))
	d.s(": ")
}

// cooked decodes the payload of a Linux cooked header (hdrLen bytes of a
// frame of wire bytes) of hardware type hatype and protocol et; header
// prints the header, given a length to show: first with -e, else for a
// payload it cannot decode.
func (d *dec) cooked(hatype, et uint16, p []byte, wire, hdrLen int, header func(length int)) {
	eflag := d.p.opts.LinkHeader
	if eflag {
		header(wire)
	}
	length := wire - hdrLen
	d.hdr = hdrLen
	if hatype == 803 {
		d.s("802.11 radiotap, not decoded")
		return
	}
	for {
		if et <= 1500 {
			if et == 1 || et == 4 {
				d.s("802.3/802.2, not decoded")
				return
			}
			d.hexDump(p)
			return
		}
		if et != etVLAN {
			break
		}
		if len(p) < 4 {
			d.proto = "vlan"
			d.trunc()
			d.hdr += len(p)
			return
		}
		if eflag {
			d.vlanTCI(binary.BigEndian.Uint16(p))
		}
		et = binary.BigEndian.Uint16(p[2:])
		if et <= 1500 {
			et = 4
		}
		if !d.p.opts.Quick {
			d.s("ethertype ")
			if n := etherTypeName(et); n != "" {
				d.s(n)
			} else {
				d.s("Unknown")
			}
			d.s(", ")
		}
		p, length = p[4:], length-4
		d.hdr += 4
	}
	if d.etherPayload(et, p, length) {
		return
	}
	if !eflag {
		header(length + hdrLen)
	}
	d.hexDump(p)
}

// loopback decodes DLT_NULL (the address family in the byte order of the
// machine that wrote it) and DLT_LOOP (network byte order).
func (d *dec) loopback(lt bpfcompile.LinkType, b []byte, wire int) {
	d.proto = "null" // for DLT_LOOP too
	need(b, 0, 4)
	d.hdr = 4
	var af uint32
	if lt == bpfcompile.LinkTypeLoop {
		af = binary.BigEndian.Uint32(b)
	} else {
		af = binary.NativeEndian.Uint32(b)
		if af&0xffff0000 != 0 {
			af = af>>24 | af>>8&0xff00 | af<<8&0xff0000 | af<<24
		}
	}
	eflag := d.p.opts.LinkHeader
	if eflag {
		d.afHeader(af, wire)
	}
	p, length := b[4:], wire-4
	switch af {
	case 2:
		d.ip4(p, length)
	case 24, 28, 30:
		d.ip6(p, length)
	default:
		// ISO, AppleTalk and IPX are not decoded here.
		if !eflag {
			d.afHeader(af, wire)
		}
		d.hexDump(p)
	}
}

// afHeader prints tcpdump's header of a NULL/LOOP frame: "AF IPv4 (2),
// length N: " ("IPv4, length N: " with -q).
func (d *dec) afHeader(af uint32, wire int) {
	name := ""
	switch af {
	case 2:
		name = "IPv4"
	case 6:
		name = "NS"
	case 7:
		name = "ISO"
	case 16:
		name = "Appletalk"
	case 23:
		name = "IPX"
	case 24, 28, 30:
		name = "IPv6"
	}
	switch {
	case d.p.opts.Quick && name != "":
		d.s(name)
	case d.p.opts.Quick:
		d.s("Unknown AF ")
		d.u(uint64(af))
	default:
		d.s("AF ")
		if name == "" {
			name = "Unknown"
		}
		d.s(name)
		d.s(" (")
		d.u(uint64(af))
		d.s(")")
	}
	d.s(", length ")
	d.u(uint64(wire))
	d.s(": ")
}

// arp decodes ARP and RARP.
func (d *dec) arp(b []byte, length int) {
	d.proto = "arp"
	need(b, 0, 8)
	hrd, pro := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	hln, pln, op := int(b[4]), int(b[5]), binary.BigEndian.Uint16(b[6:])
	need(b, 8+2*hln+pln, pln) // through the target protocol address
	sha, spa := b[8:8+hln], b[8+hln:8+hln+pln]
	tha, tpa := b[8+hln+pln:8+2*hln+pln], b[8+2*hln+pln:8+2*hln+2*pln]
	if !d.p.opts.LinkHeader {
		d.s("ARP, ")
	}
	if hrd == 19 { // ATM ARP
		d.s("ATM ARP, not decoded")
		return
	}
	if pro != etIPv4 && pro != 0x1000 || pln != 4 || hln == 0 {
		d.s("hardware type ")
		d.u(uint64(hrd))
		d.s(" (len ")
		d.u(uint64(hln))
		d.s("), protocol 0x")
		d.hex(uint64(pro), 4)
		d.s(" (len ")
		d.u(uint64(pln))
		d.s("), length ")
		d.u(uint64(length))
		return
	}
	switch op {
	case 1:
		d.s("Request who-has ")
		d.ip4addr(tpa)
		if !allZero(tha) {
			d.s(" (")
			d.mac(tha)
			d.s(")")
		}
		d.s(" tell ")
		d.ip4addr(spa)
	case 2:
		d.s("Reply ")
		d.ip4addr(spa)
		d.s(" is-at ")
		d.mac(sha)
	case 3, 8:
		if op == 3 {
			d.s("Reverse Request who-is ")
		} else {
			d.s("Inverse Request who-is ")
		}
		d.mac(tha)
		d.s(" tell ")
		d.mac(sha)
	case 4:
		d.s("Reverse Reply ")
		d.mac(tha)
		d.s(" at ")
		d.ip4addr(tpa)
	case 9:
		d.s("Inverse Reply ")
		d.mac(sha)
		d.s(" at ")
		d.ip4addr(spa)
	default:
		d.hexDump(b)
		return
	}
	d.s(", length ")
	d.u(uint64(length))
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
