package bpfcompile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/gopacket/pcapgo"
)

// confPacket is one input of the differential runs.
type confPacket struct {
	data   []byte
	wire   int    // length on the wire (len(data) unless truncated)
	meta   *Meta  // ancillary data for live cases, nil for a savefile
	origin string // where it comes from, for failure messages
}

func (p confPacket) key() string {
	k := fmt.Sprintf("%d|", p.wire)
	if p.meta != nil {
		k += fmt.Sprintf("%+v|", *p.meta)
	}
	return k + string(p.data)
}

// confReadSavefile reads every packet of a pcap or pcapng file and the
// snapshot length of its header (0 there means 262144, as in libpcap).
func confReadSavefile(path string) (pkts []confPacket, snaplen int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var next func() ([]byte, int, error)
	if r, sl, err := confPcapReader(f); err == nil {
		snaplen, next = sl, r
	} else {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, 0, err
		}
		ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: neither pcap nor pcapng: %w", path, err)
		}
		if intf, err := ng.Interface(0); err == nil {
			snaplen = int(intf.SnapLength)
		}
		next = func() ([]byte, int, error) {
			d, ci, err := ng.ReadPacketData()
			return d, ci.Length, err
		}
	}
	if snaplen == 0 {
		snaplen = 262144
	}
	for i := 0; ; i++ {
		d, wire, err := next()
		if errors.Is(err, io.EOF) {
			return pkts, snaplen, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: packet %d: %w", path, i, err)
		}
		pkts = append(pkts, confPacket{data: append([]byte(nil), d...), wire: max(wire, len(d)), origin: fmt.Sprintf("%s#%d", confBase(path), i)})
	}
}

// confPcapReader reads a pcap file as libpcap does, where gopacket's
// reader is stricter: a packet longer than the file's snapshot length is
// cut to it, and a captured length above the original length is taken
// as it is (fuzzed SLIP files of libpcap's tests have both). It returns
// the function that reads the next packet and the snapshot length.
func confPcapReader(r io.Reader) (func() ([]byte, int, error), int, error) {
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, err
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(hdr[:]) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, 0, errors.New("not a pcap file")
	}
	snaplen := int(order.Uint32(hdr[16:]))
	next := func() ([]byte, int, error) {
		var rec [16]byte
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, 0, err
			}
			return nil, 0, io.EOF
		}
		caplen, wire := order.Uint32(rec[8:]), order.Uint32(rec[12:])
		if caplen > 1<<20 {
			return nil, 0, fmt.Errorf("capture length %d", caplen)
		}
		d := make([]byte, caplen)
		if _, err := io.ReadFull(r, d); err != nil {
			return nil, 0, err
		}
		if snaplen > 0 && len(d) > snaplen {
			d = d[:snaplen]
		}
		return d, int(wire), nil
	}
	return next, snaplen, nil
}

func confBase(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// confL3 is a network-layer packet: what follows the link header, and the
// EtherType that announces it (an LLC frame has etype 0 and llc set).
type confL3 struct {
	name  string
	etype uint16
	llc   bool // data starts with an 802.2 LLC header; Ethernet frames it with a length
	data  []byte
}

func (p confL3) isIPv4() bool { return p.etype == 0x0800 }
func (p confL3) isIPv6() bool { return p.etype == 0x86dd }

func confBE16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func confBE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func confCat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

var (
	confIP4A  = []byte{10, 0, 0, 1}
	confIP4B  = []byte{192, 168, 1, 2}
	confIP4Bc = []byte{255, 255, 255, 255}
	confIP4Mc = []byte{224, 0, 0, 18}
	confIP6A  = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	confIP6B  = []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
	confIP6Mc = []byte{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	confMacA  = []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	confMacB  = []byte{0xaa, 0x00, 0x04, 0x00, 0x14, 0x0e}
	confMacBc = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	confMacMc = []byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}
	confData  = []byte("0123456789abcdefghijklmnopqrstuvwxyz")
)

// confIPv4 builds an IPv4 header (with opts, padded to 4 bytes) and payload.
// frag is the flags+offset field.
func confIPv4(src, dst []byte, proto byte, frag uint16, opts []byte, payload []byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	hl := 20 + len(opts)
	h := make([]byte, 20)
	h[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(h[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	copy(h[12:], src)
	copy(h[16:], dst)
	return confCat(h, opts, payload)
}

// confIPv6 builds an IPv6 header and payload.
func confIPv6(src, dst []byte, next byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	copy(h[8:], src)
	copy(h[24:], dst)
	return confCat(h, payload)
}

// confExt6 builds an IPv6 extension header (hop-by-hop, routing, destination
// options: length in 8-byte units beyond the first 8).
func confExt6(next byte, units int, payload []byte) []byte {
	h := make([]byte, 8*(units+1))
	h[0], h[1] = next, byte(units)
	return confCat(h, payload)
}

// confFrag6 builds an IPv6 fragment header.
func confFrag6(next byte, offset uint16, more bool, payload []byte) []byte {
	h := make([]byte, 8)
	h[0] = next
	v := offset << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(h[2:], v)
	return confCat(h, payload)
}

// confAH builds an authentication header (length in 4-byte units minus 2).
func confAH(next byte, payload []byte) []byte {
	h := make([]byte, 16)
	h[0], h[1] = next, 2
	return confCat(h, payload)
}

func confTCP(sport, dport uint16, flags byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	h[12], h[13] = 0x50, flags
	return confCat(h, confData[:8])
}

func confUDP(sport, dport uint16, payload []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return confCat(h, payload)
}

func confSCTP(sport, dport uint16) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	return h
}

func confICMP(typ, code byte) []byte {
	return confCat([]byte{typ, code, 0, 0, 0, 1, 0, 1}, confData[:8])
}

func confEth(dst, src []byte, etype uint16, payload []byte) []byte {
	return confCat(dst, src, confBE16(etype), payload)
}

// confSyntheticL3 builds network-layer packets of every protocol and header
// chain the filter language names.
func confSyntheticL3() []confL3 {
	inner := confEth(confMacB, confMacA, 0x0800, confIPv4(confIP4B, confIP4A, 6, 0, nil, confTCP(1234, 80, 0x02)))
	var v []confL3
	add4 := func(name string, src, dst []byte, proto byte, frag uint16, opts, payload []byte) {
		v = append(v, confL3{"ipv4/" + name, 0x0800, false, confIPv4(src, dst, proto, frag, opts, payload)})
	}
	add6 := func(name string, src, dst []byte, next byte, payload []byte) {
		v = append(v, confL3{"ipv6/" + name, 0x86dd, false, confIPv6(src, dst, next, payload)})
	}
	add4("tcp syn", confIP4A, confIP4B, 6, 0, nil, confTCP(1234, 80, 0x02))
	add4("tcp synack", confIP4B, confIP4A, 6, 0x4000, nil, confTCP(80, 1234, 0x12))
	add4("tcp fin push urg", confIP4A, confIP4B, 6, 0, nil, confTCP(20, 21, 0x29))
	add4("tcp rst to 25", confIP4A, confIP4B, 6, 0, nil, confTCP(1025, 25, 0x04))
	add4("tcp options", confIP4A, confIP4B, 6, 0, []byte{1, 1, 1, 0}, confTCP(443, 8080, 0x10))
	add4("long options", confIP4A, confIP4B, 6, 0, make([]byte, 40), confTCP(22, 22, 0x18))
	add4("udp dns", confIP4A, confIP4B, 17, 0, nil, confUDP(5353, 53, confData[:12]))
	add4("udp bootp", []byte{0, 0, 0, 0}, confIP4Bc, 17, 0, nil, confUDP(68, 67, confData))
	add4("udp 2000", confIP4B, confIP4Mc, 17, 0, nil, confUDP(2000, 1999, confData[:4]))
	add4("vxlan", confIP4A, confIP4B, 17, 0, nil, confUDP(40000, 4789, confCat([]byte{0x08, 0, 0, 0, 0, 0, 0x0a, 0}, inner)))
	add4("geneve ether", confIP4A, confIP4B, 17, 0, nil, confUDP(40000, 6081, confCat([]byte{0, 0, 0x65, 0x58, 0, 0, 0x14, 0}, inner)))
	add4("geneve ipv4 opts", confIP4A, confIP4B, 17, 0, nil, confUDP(40000, 6081, confCat([]byte{2, 0, 0x08, 0x00, 0, 0, 0x0a, 0}, make([]byte, 8), confIPv4(confIP4B, confIP4A, 17, 0, nil, confUDP(1, 2, nil)))))
	add4("icmp echo", confIP4A, confIP4B, 1, 0, nil, confICMP(8, 0))
	add4("icmp reply", confIP4B, confIP4A, 1, 0, nil, confICMP(0, 0))
	add4("icmp unreach", confIP4B, confIP4A, 1, 0, nil, confICMP(3, 1))
	add4("icmp bcast", confIP4A, confIP4Bc, 1, 0, nil, confICMP(13, 0))
	add4("igmp", confIP4A, confIP4Mc, 2, 0, []byte{0x94, 4, 0, 0}, []byte{0x16, 0, 0, 0, 224, 0, 0, 18})
	add4("igrp", confIP4A, confIP4B, 9, 0, nil, confData[:12])
	add4("pim", confIP4A, confIP4Mc, 103, 0, nil, []byte{0x20, 0, 0, 0, 0, 1, 0, 4})
	add4("vrrp", confIP4A, confIP4Mc, 112, 0, nil, []byte{0x21, 1, 100, 1, 0, 1, 0, 0, 10, 0, 0, 254})
	add4("sctp", confIP4A, confIP4B, 132, 0, nil, confSCTP(2905, 80))
	add4("gre", confIP4A, confIP4B, 47, 0, nil, confCat([]byte{0, 0, 0x08, 0x00}, confIPv4(confIP4B, confIP4A, 6, 0, nil, confTCP(1, 80, 2))))
	add4("esp", confIP4A, confIP4B, 50, 0, nil, confData[:16])
	add4("ah tcp", confIP4A, confIP4B, 51, 0, nil, confAH(6, confTCP(1234, 80, 2)))
	add4("ipip", confIP4A, confIP4B, 4, 0, nil, confIPv4(confIP4B, confIP4A, 17, 0, nil, confUDP(53, 53, nil)))
	add4("6in4", confIP4A, confIP4B, 41, 0, nil, confIPv6(confIP6A, confIP6B, 6, confTCP(1, 80, 2)))
	add4("ospf", confIP4A, confIP4Mc, 89, 0, nil, confData[:24])
	add4("eigrp", confIP4A, confIP4Mc, 88, 0, nil, confData[:20])
	add4("carp-ish proto 0", confIP4A, confIP4B, 0, 0, nil, confData[:8])
	add4("first fragment", confIP4A, confIP4B, 6, 0x2000, nil, confTCP(1234, 80, 2))
	add4("middle fragment", confIP4A, confIP4B, 6, 0x2000|185, nil, confTCP(80, 80, 2))
	add4("last fragment udp", confIP4A, confIP4B, 17, 185, nil, confUDP(53, 53, nil))
	add4("loopback", []byte{127, 0, 0, 1}, []byte{127, 0, 0, 1}, 17, 0, nil, confUDP(1, 1, nil))
	add4("net bcast", confIP4A, []byte{10, 0, 0, 255}, 17, 0, nil, confUDP(138, 138, nil))
	add6("tcp", confIP6A, confIP6B, 6, confTCP(1234, 80, 2))
	add6("udp", confIP6B, confIP6A, 17, confUDP(546, 547, confData[:8]))
	add6("icmp6 echo", confIP6A, confIP6B, 58, confICMP(128, 0))
	add6("icmp6 ns", confIP6B, confIP6Mc, 58, confICMP(135, 0))
	add6("icmp6 mld", confIP6B, confIP6Mc, 58, confICMP(143, 0))
	add6("sctp", confIP6A, confIP6B, 132, confSCTP(80, 2905))
	add6("hbh tcp", confIP6A, confIP6B, 0, confExt6(6, 0, confTCP(1234, 80, 2)))
	add6("hbh rt frag dst tcp", confIP6A, confIP6B, 0, confExt6(43, 1, confExt6(44, 0, confFrag6(60, 0, true, confExt6(6, 0, confTCP(1234, 80, 2))))))
	add6("frag later udp", confIP6A, confIP6B, 44, confFrag6(17, 100, false, confUDP(53, 53, nil)))
	add6("ah tcp", confIP6A, confIP6B, 51, confAH(6, confTCP(80, 1234, 0x12)))
	add6("dst icmp6", confIP6A, confIP6Mc, 60, confExt6(58, 0, confICMP(128, 0)))
	add6("esp", confIP6A, confIP6B, 50, confData[:16])
	add6("no next", confIP6A, confIP6B, 59, nil)
	add6("6in6", confIP6A, confIP6B, 41, confIPv6(confIP6B, confIP6A, 17, confUDP(1, 2, nil)))
	add6("pim", confIP6B, confIP6Mc, 103, []byte{0x20, 0, 0, 0})
	add6("vrrp", confIP6B, confIP6Mc, 112, []byte{0x31, 1, 100, 1, 0, 1, 0, 0})
	add6("igmp proto 2", confIP6B, confIP6Mc, 2, confData[:8])
	arp := func(op uint16, spa, tpa []byte) []byte {
		return confCat(confBE16(1), confBE16(0x0800), []byte{6, 4}, confBE16(op), confMacA, spa, make([]byte, 6), tpa)
	}
	v = append(v,
		confL3{"arp request", 0x0806, false, arp(1, confIP4A, confIP4B)},
		confL3{"arp reply", 0x0806, false, arp(2, confIP4B, confIP4A)},
		confL3{"rarp request", 0x8035, false, arp(3, []byte{0, 0, 0, 0}, confIP4A)},
		confL3{"rarp reply", 0x8035, false, arp(4, confIP4B, confIP4A)},
		confL3{"mpls ipv4", 0x8847, false, confCat(confBE32(100<<12|1<<8|64), confIPv4(confIP4A, confIP4B, 6, 0, nil, confTCP(1, 80, 2)))},
		confL3{"mpls 2 labels", 0x8847, false, confCat(confBE32(200<<12|64), confBE32(300<<12|1<<8|64), confIPv4(confIP4A, confIP4B, 17, 0, nil, confUDP(53, 53, nil)))},
		confL3{"mpls ipv6", 0x8847, false, confCat(confBE32(2<<12|1<<8|64), confIPv6(confIP6A, confIP6B, 6, confTCP(1, 80, 2)))},
		confL3{"mpls multicast", 0x8848, false, confCat(confBE32(16<<12|1<<8|64), confIPv4(confIP4A, confIP4Mc, 17, 0, nil, confUDP(1, 1, nil)))},
		confL3{"pppoe padi", 0x8863, false, []byte{0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0}},
		confL3{"pppoe session ipv4", 0x8864, false, confCat([]byte{0x11, 0, 0x12, 0x34}, confBE16(26), confBE16(0x0021), confIPv4(confIP4A, confIP4B, 17, 0, nil, confUDP(53, 53, nil)))},
		confL3{"pppoe session ipv6", 0x8864, false, confCat([]byte{0x11, 0, 0, 1}, confBE16(62), confBE16(0x0057), confIPv6(confIP6A, confIP6B, 6, confTCP(1, 80, 2)))},
		confL3{"decnet", 0x6003, false, confCat([]byte{0x0b, 0x00, 0x81}, confData[:20])},
		confL3{"lat", 0x6004, false, confData[:16]},
		confL3{"mop dl", 0x6001, false, confData[:16]},
		confL3{"mop rc", 0x6002, false, confData[:16]},
		confL3{"sca", 0x6007, false, confData[:16]},
		confL3{"atalk", 0x809b, false, confData[:16]},
		confL3{"aarp", 0x80f3, false, confData[:16]},
		confL3{"ipx", 0x8137, false, confData[:16]},
		confL3{"lldp", 0x88cc, false, confData[:16]},
		confL3{"stp llc", 0, true, confCat([]byte{0x42, 0x42, 0x03, 0, 0, 0, 0}, confData[:20])},
		confL3{"ipx llc", 0, true, confCat([]byte{0xe0, 0xe0, 0x03}, confData[:20])},
		confL3{"netbeui llc", 0, true, confCat([]byte{0xf0, 0xf0, 0x03}, confData[:20])},
		confL3{"isis llc", 0, true, confCat([]byte{0xfe, 0xfe, 0x03, 0x83, 27, 1, 0, 0x12}, confData[:20])},
		confL3{"esis llc", 0, true, confCat([]byte{0xfe, 0xfe, 0x03, 0x82, 10, 1, 0, 2}, confData[:20])},
		confL3{"clnp llc", 0, true, confCat([]byte{0xfe, 0xfe, 0x03, 0x81, 20, 1, 0, 0x1c}, confData[:20])},
		confL3{"snap ipv4", 0, true, confCat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0}, confBE16(0x0800), confIPv4(confIP4A, confIP4B, 6, 0, nil, confTCP(1, 80, 2)))},
		confL3{"snap atalk", 0, true, confCat([]byte{0xaa, 0xaa, 0x03, 0x08, 0x00, 0x07}, confBE16(0x809b), confData[:16])},
		confL3{"snap aarp", 0, true, confCat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0}, confBE16(0x80f3), confData[:16])},
		confL3{"llc ui other", 0, true, confCat([]byte{0x06, 0x06, 0x03}, confData[:16])},
		confL3{"llc i frame", 0, true, confCat([]byte{0x42, 0x42, 0x00, 0x01}, confData[:16])},
		confL3{"llc s frame", 0, true, confCat([]byte{0x42, 0x42, 0x01, 0x01}, confData[:16])},
		confL3{"novell raw 802.3", 0, true, confCat([]byte{0xff, 0xff}, confData[:24])},
	)
	return v
}

// confVLANTag returns an 802.1Q/802.1ad tag: TPID, TCI.
func confVLANTag(tpid, tci uint16) []byte { return confCat(confBE16(tpid), confBE16(tci)) }

// confFrameEthernet frames p for DLT_EN10MB in several ways: plain, to
// broadcast and multicast, inside one VLAN tag and inside QinQ.
func confFrameEthernet(p confL3) []confPacket {
	var out []confPacket
	add := func(name string, d []byte) {
		out = append(out, confPacket{data: d, wire: len(d), origin: "EN10MB " + name + " " + p.name})
	}
	if p.llc {
		add("802.3", confCat(confMacMc, confMacA, confBE16(uint16(len(p.data))), p.data))
		add("vlan 802.3", confCat(confMacB, confMacA, confVLANTag(0x8100, 10), confBE16(uint16(len(p.data))), p.data))
		return out
	}
	add("plain", confEth(confMacB, confMacA, p.etype, p.data))
	add("bcast", confEth(confMacBc, confMacA, p.etype, p.data))
	add("mcast", confEth(confMacMc, confMacB, p.etype, p.data))
	add("vlan 10", confCat(confMacB, confMacA, confVLANTag(0x8100, 10), confBE16(p.etype), p.data))
	add("vlan 20 prio", confCat(confMacA, confMacB, confVLANTag(0x8100, 0xa014), confBE16(p.etype), p.data))
	add("qinq 100/10", confCat(confMacB, confMacA, confVLANTag(0x88a8, 100), confVLANTag(0x8100, 10), confBE16(p.etype), p.data))
	add("9100 qinq", confCat(confMacB, confMacA, confVLANTag(0x9100, 20), confVLANTag(0x8100, 4095), confBE16(p.etype), p.data))
	return out
}

// confFrameSLL frames p with a Linux cooked header (DLT_LINUX_SLL): packet type,
// ARPHRD type, address length, address, protocol.
func confFrameSLL(p confL3) []confPacket {
	var out []confPacket
	proto := p.etype
	if p.llc {
		proto = 0x0004 // ETH_P_802_2
		if p.data[0] == 0xff && p.data[1] == 0xff {
			proto = 0x0001 // ETH_P_802_3: Novell raw
		}
	}
	for _, pt := range []uint16{0, 4, 1} {
		d := confCat(confBE16(pt), confBE16(1), confBE16(6), confMacA, []byte{0, 0}, confBE16(proto), p.data)
		out = append(out, confPacket{data: d, wire: len(d), origin: fmt.Sprintf("LINUX_SLL pkttype %d %s", pt, p.name)})
	}
	d := confCat(confBE16(0), confBE16(1), confBE16(6), confMacA, []byte{0, 0}, confBE16(0x8100), confVLANTag(10, proto)[2:], p.data)
	out = append(out, confPacket{data: d, wire: len(d), origin: "LINUX_SLL vlan " + p.name})
	return out
}

// confFrameSLL2 frames p with a DLT_LINUX_SLL2 header: protocol, reserved,
// ifindex, ARPHRD type, packet type, address length, address.
func confFrameSLL2(p confL3) []confPacket {
	var out []confPacket
	proto := p.etype
	if p.llc {
		proto = 0x0004
		if p.data[0] == 0xff && p.data[1] == 0xff {
			proto = 0x0001
		}
	}
	for _, pt := range []byte{0, 4, 2} {
		d := confCat(confBE16(proto), []byte{0, 0}, confBE32(10), confBE16(1), []byte{pt, 6}, confMacA, []byte{0, 0}, p.data)
		out = append(out, confPacket{data: d, wire: len(d), origin: fmt.Sprintf("LINUX_SLL2 pkttype %d %s", pt, p.name)})
	}
	return out
}

// confFrameNull frames an IP packet for DLT_NULL (host byte order, little
// endian here) or DLT_LOOP (network byte order) with every address family
// value an IP version has on some OS, and in the other byte order too.
func confFrameNull(p confL3, loop bool) []confPacket {
	var fams []uint32
	switch {
	case p.isIPv4():
		fams = []uint32{2}
	case p.isIPv6():
		fams = []uint32{10, 24, 28, 30}
	default:
		fams = []uint32{uint32(p.etype)}
	}
	name := "NULL"
	if loop {
		name = "LOOP"
	}
	var out []confPacket
	for _, f := range fams {
		for _, swap := range []bool{false, true} {
			bigEndian := loop != swap
			var h []byte
			if bigEndian {
				h = binary.BigEndian.AppendUint32(nil, f)
			} else {
				h = binary.LittleEndian.AppendUint32(nil, f)
			}
			d := confCat(h, p.data)
			out = append(out, confPacket{data: d, wire: len(d), origin: fmt.Sprintf("%s af %d (swapped %v) %s", name, f, swap, p.name)})
		}
	}
	return out
}

// confSynthetic returns the built packets for one DLT: every network
// packet framed for it (IP only where the link carries nothing else, plus a
// few that are not, to see them rejected).
func confSynthetic(dlt string) []confPacket {
	var out []confPacket
	for _, p := range confSyntheticL3() {
		switch dlt {
		case "EN10MB":
			out = append(out, confFrameEthernet(p)...)
		case "LINUX_SLL":
			out = append(out, confFrameSLL(p)...)
		case "LINUX_SLL2":
			out = append(out, confFrameSLL2(p)...)
		case "NULL", "LOOP":
			if p.isIPv4() || p.isIPv6() || p.name == "arp request" {
				out = append(out, confFrameNull(p, dlt == "LOOP")...)
			}
		case "RAW", "IPV4", "IPV6":
			if p.isIPv4() || p.isIPv6() {
				out = append(out, confPacket{data: p.data, wire: len(p.data), origin: dlt + " " + p.name})
			}
		}
	}
	if dlt == "RAW" || dlt == "IPV4" || dlt == "IPV6" {
		junk := confCat([]byte{0x50}, confData)
		out = append(out, confPacket{data: junk, wire: len(junk), origin: dlt + " version 5"})
	}
	return out
}

// confLinkHeaderLen is the length of the fixed link header of dlt, where the
// interesting truncation points start.
func confLinkHeaderLen(dlt string) int {
	switch dlt {
	case "EN10MB":
		return 14
	case "LINUX_SLL":
		return 16
	case "LINUX_SLL2":
		return 20
	case "NULL", "LOOP":
		return 4
	}
	return 0
}

// confTruncations returns copies of p cut at caplens around the headers: the
// wire length stays, as in a capture with a small snaplen.
func confTruncations(p confPacket, hdr int) []confPacket {
	var out []confPacket
	seen := map[int]bool{}
	for _, c := range []int{1, hdr - 1, hdr + 1, hdr + 9, hdr + 13, hdr + 20, hdr + 22, hdr + 40, hdr + 42, len(p.data) / 2, len(p.data) - 1} {
		if c <= 0 || c >= len(p.data) || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, confPacket{data: p.data[:c:c], wire: p.wire, meta: p.meta, origin: fmt.Sprintf("%s cut at %d", p.origin, c)})
	}
	return out
}

// confLiveMetas are the ancillary data a live Linux capture can present: VLAN
// tag stripped or not, packet direction and type, interface.
func confLiveMetas(etype uint16) []*Meta {
	return []*Meta{
		{Protocol: etype, PktType: 0, IfIndex: 1, HAType: 1},
		{Protocol: etype, PktType: 4, IfIndex: 10, HAType: 1},
		{Protocol: etype, PktType: 1, IfIndex: 10, HAType: 1, VLANPresent: true, VLANTCI: 10, VLANTPID: 0x8100},
		{Protocol: etype, PktType: 3, IfIndex: 2, HAType: 1, VLANPresent: true, VLANTCI: 0xa014, VLANTPID: 0x88a8},
		{Protocol: etype, PktType: 2, IfIndex: 10, HAType: 1, VLANPresent: true, VLANTCI: 0x0fff, VLANTPID: 0x8100},
	}
}

// confWithLiveMetas returns p once per live metadata variant.
func confWithLiveMetas(pkts []confPacket, dlt string) []confPacket {
	var out []confPacket
	for _, p := range pkts {
		var etype uint16
		if dlt == "EN10MB" && len(p.data) >= 14 {
			etype = binary.BigEndian.Uint16(p.data[12:])
		}
		for i, m := range confLiveMetas(etype) {
			out = append(out, confPacket{data: p.data, wire: p.wire, meta: m, origin: fmt.Sprintf("%s meta %d", p.origin, i)})
		}
	}
	return out
}
