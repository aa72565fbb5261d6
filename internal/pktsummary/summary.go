package pktsummary

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// Summarize describes a frame in one short line for packetdebug logging:
// addresses, protocol and ports, as far as the captured bytes go.
func Summarize(linkType uint32, b []byte) string { return Describe(linkType, b, nil) }

// IfName returns the name of the interface with the given index, or false
// when there is none.
type IfName func(index int) (string, bool)

// Describe is Summarize for the capture command's lines: the frame's
// link-layer header decoded as tcpdump does without -e, which for
// LINUX_SLL2 (tcpdump -i any) means the interface and the direction first
// ("eth0  In  "), the interface named by ifName (nil, or an index it does
// not know: "ifindex N").
func Describe(linkType uint32, b []byte, ifName IfName) string {
	switch bpfcompile.LinkType(linkType) {
	case bpfcompile.LinkTypeEthernet:
		if len(b) < 14 {
			return "truncated ethernet header"
		}
		return summarizeEthertype(binary.BigEndian.Uint16(b[12:]), b[14:], b[6:12], b[0:6])
	case bpfcompile.LinkTypeRaw, bpfcompile.LinkTypeIPv4, bpfcompile.LinkTypeIPv6:
		return summarizeIP(b)
	case bpfcompile.LinkTypeNull, bpfcompile.LinkTypeLoop:
		return summarizeLoopback(b)
	case bpfcompile.LinkTypeLinuxSLL:
		if len(b) < sllLen {
			return "truncated Linux cooked header"
		}
		return summarizeEthertype(binary.BigEndian.Uint16(b[14:]), b[sllLen:], nil, nil)
	case bpfcompile.LinkTypeLinuxSLL2:
		return summarizeSLL2(b, ifName)
	}
	return fmt.Sprintf("link type %d, %d bytes", linkType, len(b))
}

// Lengths of the Linux cooked headers.
const (
	sllLen  = 16
	sll2Len = 20
)

// pktTypes are tcpdump's names of the Linux packet types (PACKET_HOST ...
// PACKET_OUTGOING), as it prints them for a cooked header.
var pktTypes = [...]string{"In", "B", "M", "P", "Out"}

// summarizeSLL2 decodes a LINUX_SLL2 header: protocol, interface index,
// packet type, then the payload as an Ethernet frame's.
func summarizeSLL2(b []byte, ifName IfName) string {
	if len(b) < sll2Len {
		return "truncated Linux cooked v2 header"
	}
	idx := int(binary.BigEndian.Uint32(b[4:]))
	name := fmt.Sprintf("ifindex %d", idx)
	if ifName != nil {
		if n, ok := ifName(idx); ok {
			name = n
		}
	}
	dir := "?"
	if t := int(b[10]); t < len(pktTypes) {
		dir = pktTypes[t]
	}
	return fmt.Sprintf("%-5s %-3s %s", name, dir, summarizeEthertype(binary.BigEndian.Uint16(b[0:]), b[sll2Len:], nil, nil))
}

// summarizeLoopback decodes the address-family word of DLT_NULL (host
// order of the capturing machine: either) and DLT_LOOP (network order).
func summarizeLoopback(b []byte) string {
	if len(b) < 4 {
		return "truncated loopback header"
	}
	af := binary.LittleEndian.Uint32(b)
	if af&0xffff0000 != 0 {
		af = binary.BigEndian.Uint32(b)
	}
	switch af {
	case 2, 10, 24, 28, 30: // AF_INET; AF_INET6 of Linux, the BSDs, Darwin
		return summarizeIP(b[4:])
	}
	return fmt.Sprintf("loopback, address family %d", af)
}

// summarizeEthertype describes a payload of EtherType et, after any VLAN
// tags; src and dst are the link-layer addresses, if any, for an unknown
// EtherType.
func summarizeEthertype(et uint16, rest, src, dst []byte) string {
	vlan := ""
	for (et == 0x8100 || et == 0x88a8) && len(rest) >= 4 {
		vlan += fmt.Sprintf("vlan %d, ", binary.BigEndian.Uint16(rest)&0x0fff)
		et = binary.BigEndian.Uint16(rest[2:])
		rest = rest[4:]
	}
	switch et {
	case 0x0800, 0x86dd:
		return vlan + summarizeIP(rest)
	case 0x0806:
		return vlan + "ARP"
	}
	if src == nil {
		return fmt.Sprintf("%sethertype %#04x", vlan, et)
	}
	return fmt.Sprintf("%s%x > %x, ethertype %#04x", vlan, src, dst, et)
}

func summarizeIP(b []byte) string {
	if len(b) < 1 {
		return "empty packet"
	}
	var src, dst netip.Addr
	var proto byte
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return "truncated IPv4 header"
		}
		ihl := int(b[0]&0x0f) * 4
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		proto = b[9]
		if ihl >= 20 && len(b) >= ihl && binary.BigEndian.Uint16(b[6:])&0x1fff == 0 {
			l4 = b[ihl:]
		}
	case 6:
		if len(b) < 40 {
			return "truncated IPv6 header"
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		proto = b[6]
		l4 = b[40:]
	default:
		return fmt.Sprintf("IP version %d", b[0]>>4)
	}
	switch proto {
	case 6, 17:
		name := "TCP"
		if proto == 17 {
			name = "UDP"
		}
		if len(l4) >= 4 {
			return fmt.Sprintf("%s %s > %s", name,
				netip.AddrPortFrom(src, binary.BigEndian.Uint16(l4)),
				netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:])))
		}
		return fmt.Sprintf("%s %s > %s", name, src, dst)
	case 1, 58:
		if len(l4) >= 2 {
			return fmt.Sprintf("ICMP %s > %s type %d code %d", src, dst, l4[0], l4[1])
		}
		return fmt.Sprintf("ICMP %s > %s", src, dst)
	}
	return fmt.Sprintf("%s > %s proto %d", src, dst, proto)
}
