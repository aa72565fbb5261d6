package testenv

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// UDPFrame builds an Ethernet/IPv4/UDP frame (TTL 64, IPv4 header checksum
// set, UDP checksum 0) from srcMAC/src:sport to dstMAC/dst:dport carrying
// payload. src and dst must be IPv4 addresses.
func UDPFrame(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	ipLen := 20 + 8 + len(payload)
	f := make([]byte, 14+ipLen)
	copy(f[0:6], dstMAC)
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	return f
}

// EtherFrame builds an Ethernet frame from src to dst with the given
// EtherType after the VLAN tags (outermost first, each a TPID and a TCI),
// carrying seq and then filler bytes derived from it, up to size bytes.
func EtherFrame(dst, src net.HardwareAddr, tags [][2]uint16, etherType uint16, seq uint32, size int) []byte {
	b := make([]byte, 0, size)
	b = append(b, dst...)
	b = append(b, src...)
	for _, t := range tags {
		b = binary.BigEndian.AppendUint16(b, t[0])
		b = binary.BigEndian.AppendUint16(b, t[1])
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	b = binary.BigEndian.AppendUint32(b, seq)
	for i := 0; len(b) < size; i++ {
		b = append(b, byte(seq)+byte(i))
	}
	return b
}
