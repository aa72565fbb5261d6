package pktsummary

import (
	"encoding/binary"
	"net/netip"
)

// Builders of the frames the tests give to the printer and to tcpdump:
// each returns the bytes of one header followed by its payload.

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
	v4A  = netip.MustParseAddr("198.18.0.1")
	v4B  = netip.MustParseAddr("198.18.0.2")
	v6A  = netip.MustParseAddr("2001:db8::a")
	v6B  = netip.MustParseAddr("fe80::1:b")
)

// TCP flag bits.
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
	fURG = 0x20
	fECE = 0x40
	fCWR = 0x80
)

func ether(dst, src []byte, et uint16, payload []byte) []byte {
	b := append(append(append([]byte{}, dst...), src...), byte(et>>8), byte(et))
	return append(b, payload...)
}

// pad pads an Ethernet frame to the 60 bytes of the minimum frame.
func pad(f []byte) []byte {
	for len(f) < 60 {
		f = append(f, 0)
	}
	return f
}

func vlanTag(tpid, tci, et uint16, payload []byte) []byte {
	return append([]byte{byte(tpid >> 8), byte(tpid), byte(tci >> 8), byte(tci), byte(et >> 8), byte(et)}, payload...)
}

// ipv4 builds an IPv4 header (20 bytes plus opts) before payload.
func ipv4(src, dst netip.Addr, proto byte, id uint16, frag uint16, opts, payload []byte) []byte {
	hl := 20 + len(opts)
	b := make([]byte, hl, hl+len(payload))
	b[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8], b[9] = 64, proto
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], opts)
	var sum uint32
	for i := 0; i < hl; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	return append(b, payload...)
}

func ipv6(src, dst netip.Addr, next byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6], b[7] = next, 64
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

// ext6 is an IPv6 extension header of 8 bytes (hop-by-hop, destination
// options: PadN) before payload.
func ext6(next byte, payload []byte) []byte {
	return append([]byte{next, 0, 1, 4, 0, 0, 0, 0}, payload...)
}

// frag6 is an IPv6 fragment header.
func frag6(next byte, off uint16, more bool, id uint32, payload []byte) []byte {
	v := off << 3
	if more {
		v |= 1
	}
	b := []byte{next, 0, byte(v >> 8), byte(v), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], id)
	return append(b, payload...)
}

func tcp(sport, dport uint16, seq, ack uint32, flags byte, win uint16, opts, payload []byte) []byte {
	hl := 20 + len(opts)
	b := make([]byte, hl, hl+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], ack)
	b[12] = byte(hl/4) << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], win)
	if flags&fURG != 0 {
		binary.BigEndian.PutUint16(b[18:], 7)
	}
	copy(b[20:], opts)
	return append(b, payload...)
}

// synOpts are Linux's SYN options: mss, sackOK, timestamps, nop, wscale.
func synOpts(tsval, tsecr uint32) []byte {
	b := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7}
	binary.BigEndian.PutUint32(b[8:], tsval)
	binary.BigEndian.PutUint32(b[12:], tsecr)
	return b
}

// tsOpts are nop, nop, timestamps.
func tsOpts(tsval, tsecr uint32) []byte {
	b := []byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], tsval)
	binary.BigEndian.PutUint32(b[8:], tsecr)
	return b
}

// sackOpts are nop, nop, and a SACK option of the given blocks.
func sackOpts(blocks ...uint32) []byte {
	b := []byte{1, 1, 5, byte(2 + 4*len(blocks))}
	for _, v := range blocks {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// icmp is an ICMP or ICMPv6 message: type, code, the 4 bytes after the
// checksum (id and seq of an echo), data.
func icmp(typ, code byte, rest uint32, data []byte) []byte {
	b := []byte{typ, code, 0, 0, byte(rest >> 24), byte(rest >> 16), byte(rest >> 8), byte(rest)}
	return append(b, data...)
}

func arp(op uint16, sha []byte, spa netip.Addr, tha []byte, tpa netip.Addr) []byte {
	b := []byte{0, 1, 8, 0, 6, 4, byte(op >> 8), byte(op)}
	s, t := spa.As4(), tpa.As4()
	b = append(append(b, sha...), s[:]...)
	return append(append(b, tha...), t[:]...)
}

func sllHeader(pktType, proto uint16, payload []byte) []byte {
	h := make([]byte, 16, 16+len(payload))
	binary.BigEndian.PutUint16(h, pktType)
	binary.BigEndian.PutUint16(h[2:], 1)
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:], macA)
	binary.BigEndian.PutUint16(h[14:], proto)
	return append(h, payload...)
}

func sll2Header(proto uint16, ifindex uint32, pktType byte, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(h, proto)
	binary.BigEndian.PutUint32(h[4:], ifindex)
	binary.BigEndian.PutUint16(h[8:], 1)
	h[10] = pktType
	h[11] = 6
	copy(h[12:], macA)
	return append(h, payload...)
}

func appendName(b []byte, name string) []byte {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			if i > start {
				b = append(b, byte(i-start))
				b = append(b, name[start:i]...)
			}
			start = i + 1
		}
	}
	return append(b, 0)
}
