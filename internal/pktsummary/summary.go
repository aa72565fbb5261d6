package pktsummary

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// Summarize describes a frame in one short line for packetdebug logging:
// addresses, protocol and ports, as far as the captured bytes go.
func Summarize(linkType uint32, b []byte) string {
	switch bpfcompile.LinkType(linkType) {
	case bpfcompile.LinkTypeEthernet:
		return summarizeEthernet(b)
	case bpfcompile.LinkTypeRaw:
		return summarizeIP(b)
	}
	return fmt.Sprintf("link type %d, %d bytes", linkType, len(b))
}

func summarizeEthernet(b []byte) string {
	if len(b) < 14 {
		return "truncated ethernet header"
	}
	et := binary.BigEndian.Uint16(b[12:])
	rest := b[14:]
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
	return fmt.Sprintf("%s%x > %x, ethertype %#04x", vlan, b[6:12], b[0:6], et)
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
