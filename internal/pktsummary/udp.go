package pktsummary

import "encoding/binary"

// udp decodes a UDP datagram of length bytes (header included).
func (d *dec) udp(h *ipHdr, b []byte, length int, fragmented bool) {
	d.proto = "udp"
	if len(b) < 4 {
		if h.direct {
			d.ipaddr(h.src)
			d.s(" > ")
			d.ipaddr(h.dst)
			d.s(": ")
		}
		d.trunc()
		return
	}
	sport, dport := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	if length < 8 {
		d.ports(h, sport, dport)
		d.s("truncated-udp ")
		d.u(uint64(max(length, 0)))
		return
	}
	if len(b) < 6 {
		d.ports(h, sport, dport)
		d.trunc()
		return
	}
	ulen := int(binary.BigEndian.Uint16(b[4:]))
	if ulen == 0 && length > 65535 {
		ulen = length
	}
	if ulen < 8 {
		d.ports(h, sport, dport)
		d.s("truncated-udplength ")
		d.u(uint64(ulen))
		return
	}
	ulen -= 8
	length -= 8
	if ulen < length {
		length = ulen
	}
	d.ports(h, sport, dport)
	if len(b) < 8 {
		d.trunc()
		return
	}
	if !d.p.opts.Quick && d.udpPayload(sport, dport, b[8:], length) {
		return
	}
	if ulen > length && !fragmented {
		d.s("UDP, bad length ")
		d.u(uint64(ulen))
		d.s(" > ")
		d.u(uint64(length))
		return
	}
	d.s("UDP, length ")
	d.u(uint64(ulen))
}

// udpPayload prints the application protocol of the ports tcpdump
// decodes, in its order of precedence; false for other ports.
func (d *dec) udpPayload(sport, dport uint16, b []byte, length int) bool {
	either := func(p uint16) bool { return sport == p || dport == p }
	switch {
	case either(53):
		d.dns(b, length, false, false)
	case either(5353):
		d.dns(b, length, false, true)
	default:
		return false
	}
	return true
}
