package bpfcompile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/net/bpf"
)

// TestLinkLayerMeaning checks the rows of the link-layer table against
// frames built from the link types' formats (pcap-linktype(7),
// tcpdump.org/linktypes.html), not against libpcap's programs as the
// conformance test does: an IPv4 TCP segment to port 80, framed for each
// link type, must be accepted by the filters that name it and rejected by
// the ones that do not, with and without the optimizer, by programs the
// kernel's checker accepts.
func TestLinkLayerMeaning(t *testing.T) {
	ip := confIPv4(confIP4A, confIP4B, 6, 0, nil, confTCP(1234, 80, 0x02))
	snap := []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00} // LLC/SNAP, EtherType IPv4
	wlanData := func(fc0 byte) []byte {                   // to no DS: addr1 dst, addr2 src, addr3 BSSID
		h := confCat([]byte{fc0, 0x00, 0, 0}, confMacB, confMacA, confMacB, []byte{0, 0})
		if fc0&0x80 != 0 {
			h = append(h, 0, 0) // QoS control
		}
		return h
	}
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	zeros := func(n int) []byte { return make([]byte, n) }
	ipOnly := []string{"ip", "tcp dst port 80", "ip src host 10.0.0.1", "not udp", "tcp[13] & 2 != 0"}
	notIP := []string{"udp", "ip6", "arp", "tcp port 81"}

	tests := []struct {
		name   string
		lt     LinkType
		frame  []byte
		accept []string
		reject []string
	}{
		{"Ethernet", LinkTypeEthernet, confEth(confMacB, confMacA, 0x0800, ip),
			append([]string{"ether src 00:11:22:33:44:55"}, ipOnly...), notIP},
		{"netANALYZER", 240, confCat(zeros(4), confEth(confMacB, confMacA, 0x0800, ip)),
			append([]string{"ether dst aa:00:04:00:14:0e"}, ipOnly...), notIP},
		{"netANALYZER transparent", 241, confCat(zeros(12), confEth(confMacB, confMacA, 0x0800, ip)), ipOnly, notIP},
		{"Broadcom tag", 281, confCat(confMacB, confMacA, []byte{0x20, 0, 0, 0}, confBE16(0x0800), ip),
			append([]string{"outbound", "ether src 00:11:22:33:44:55"}, ipOnly...), append([]string{"inbound"}, notIP...)},
		{"Marvell DSA tag", 284, confCat(confMacB, confMacA, []byte{0x40, 0, 0, 0}, confBE16(0x0800), ip),
			append([]string{"outbound"}, ipOnly...), append([]string{"inbound"}, notIP...)},
		{"FDDI", 10, confCat([]byte{0x50}, confMacB, confMacA, snap, ip),
			append([]string{"fddi src 00:11:22:33:44:55", "llc"}, ipOnly...), append([]string{"multicast"}, notIP...)},
		{"Token Ring", 6, confCat([]byte{0x10, 0x40}, confMacB, confMacA, snap, ip),
			append([]string{"tr dst aa:00:04:00:14:0e"}, ipOnly...), notIP},
		{"IP over Fibre Channel", 122, confCat([]byte{0, 0}, confMacB, []byte{0, 0}, confMacA, snap, ip),
			append([]string{"link src 00:11:22:33:44:55"}, ipOnly...), notIP},
		{"RFC 1483 ATM", 100, confCat(snap, ip), ipOnly, notIP},
		{"Linux CLIP", 106, confCat(snap, ip), ipOnly, notIP},
		{"SunATM", LinkTypeSunATM, confCat([]byte{0x02, 5, 0, 42}, snap, ip),
			append([]string{"vpi 5", "vci 42", "llc"}, ipOnly...), append([]string{"lane", "vci 43"}, notIP...)},
		{"802.11", 105, confCat(wlanData(0x08), snap, ip),
			append([]string{"wlan type data", "wlan src 00:11:22:33:44:55", "wlan addr1 aa:00:04:00:14:0e", "wlan dir nods"}, ipOnly...),
			append([]string{"wlan type mgt", "wlan dir tods"}, notIP...)},
		{"802.11 QoS data", 105, confCat(wlanData(0x88), snap, ip),
			append([]string{"wlan subtype qos-data"}, ipOnly...), notIP},
		{"radiotap", 127, confCat([]byte{0, 0}, le16(8), le32(0), wlanData(0x08), snap, ip),
			append([]string{"radio[2] = 8"}, ipOnly...), notIP},
		// Flags present, DATAPAD set: the 802.11 header (26 bytes after a
		// 12-byte radiotap header) is padded to a multiple of 4.
		{"radiotap with padding", 127, confCat([]byte{0, 0}, le16(12), le32(0x02), []byte{0x20, 0, 0, 0}, wlanData(0x88), []byte{0, 0}, snap, ip),
			ipOnly, notIP},
		{"AVS", 163, confCat(confBE32(0x80211001), confBE32(64), zeros(56), wlanData(0x08), snap, ip), ipOnly, notIP},
		{"Prism", 119, confCat(le32(0x41), zeros(140), wlanData(0x08), snap, ip), ipOnly, notIP},
		{"Prism header that is AVS", 119, confCat(confBE32(0x80211001), confBE32(64), zeros(56), wlanData(0x08), snap, ip), ipOnly, notIP},
		{"PPI", 192, confCat([]byte{0, 0}, le16(8), le32(105), wlanData(0x08), snap, ip), ipOnly, notIP},
		{"PPP", LinkTypePPP, confCat([]byte{0xff, 0x03, 0x00, 0x21}, ip), ipOnly, notIP},
		{"PPP serial", 50, confCat([]byte{0xff, 0x03, 0x00, 0x21}, ip), ipOnly, notIP},
		{"PPP for pppd", 166, confCat([]byte{0x01, 0x03, 0x00, 0x21}, ip),
			append([]string{"outbound"}, ipOnly...), append([]string{"inbound"}, notIP...)},
		{"PPPoE session", 51, confCat([]byte{0x11, 0, 0, 1}, confBE16(uint16(len(ip)+2)), []byte{0x00, 0x21}, ip), ipOnly, notIP},
		{"BSD/OS PPP", 103, confCat(zeros(5), []byte{0x00, 0x21}, zeros(17), ip), ipOnly, notIP},
		{"Cisco HDLC", 104, confCat([]byte{0x0f, 0x00, 0x08, 0x00}, ip), ipOnly, notIP},
		// libpcap looks for the IP version at the start of the SLIP
		// header, not of the packet after it (its test suite pins this),
		// so "ip" matches no SLIP packet with an IP header after the
		// header; as in libpcap.
		{"SLIP", 8, confCat([]byte{1}, zeros(15), ip),
			[]string{"outbound", "link[16] = 0x45"}, []string{"inbound", "ip", "tcp dst port 80"}},
		{"BSD/OS SLIP", 102, confCat(zeros(24), ip), []string{"link[24] = 0x45"}, []string{"ip", "ip6"}},
		{"BSD loopback", LinkTypeNull, confCat(le32(2), ip), ipOnly, notIP},
		{"OpenBSD loopback", LinkTypeLoop, confCat(confBE32(2), ip), ipOnly, notIP},
		{"OpenBSD enc", 109, confCat(le32(2), zeros(8), ip), ipOnly, notIP},
		{"pflog", 117, confCat([]byte{61, 2, 1, 3}, []byte("em0"), zeros(13), zeros(16), confBE32(7), confBE32(0), zeros(16), []byte{2}, zeros(3), ip),
			append([]string{"ifname em0", "rnr 7", "action drop", "reason short", "outbound"}, ipOnly...),
			append([]string{"ifname em1", "inbound", "action pass"}, notIP...)},
		{"ARCnet", 7, confCat([]byte{0x01, 0x02, 212, 0, 0, 0}, ip),
			append([]string{"link src $01", "link dst $2"}, ipOnly...), append([]string{"broadcast"}, notIP...)},
		{"Linux ARCnet", 129, confCat([]byte{0x01, 0x00, 0, 0, 212, 0, 0, 0}, ip),
			append([]string{"broadcast", "link src host $1"}, ipOnly...), notIP},
		{"BACnet MS/TP", 165, []byte{0x55, 0xff, 0x05, 0x10, 0x20, 0, 0, 0},
			[]string{"link dst $10", "link src $20", "link[2] = 5"}, []string{"link host $30", "broadcast"}},
		{"Solaris ipnet", 226, confCat([]byte{2, 2}, confBE16(1), zeros(20), ip),
			append([]string{"outbound"}, ipOnly...), append([]string{"inbound"}, notIP...)},
		{"Apple IP over IEEE 1394", 138, confCat(zeros(16), confBE16(0x0800), ip), ipOnly, notIP},
		{"Symantec firewall", 99, confCat(zeros(6), confBE16(0x0800), zeros(36), ip), ipOnly, notIP},
		{"Frame Relay", 107, confCat([]byte{0x18, 0x41, 0x03, 0xcc}, ip), []string{"ip", "link proto \\ip"}, []string{"ip6", "iso"}},
		{"LocalTalk", 114, []byte{1, 2, 2, 0, 0}, []string{"atalk"}, []string{"ip"}},
		{"Juniper", 134, confCat([]byte{'M', 'G', 'C', 0x01}, ip), []string{"ip", "inbound"}, []string{"outbound"}},
		{"MTP2 FISU", 140, []byte{0x80, 0x80, 0x00},
			[]string{"fisu", "not msu"}, []string{"lssu", "msu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, want := range []bool{true, false} {
				exprs := tt.reject
				if want {
					exprs = tt.accept
				}
				for _, expr := range exprs {
					for _, noOpt := range []bool{false, true} {
						prog, err := Compile(expr, Options{LinkType: tt.lt, NoOptimize: noOpt})
						if !want && errors.Is(err, ErrRejectsAll) {
							continue // the optimizer proves it
						}
						if err != nil {
							t.Errorf("%q (noopt %v): %v", expr, noOpt, err)
							continue
						}
						if err := Check(prog); err != nil {
							t.Errorf("%q (noopt %v): the kernel's checker refuses it: %v", expr, noOpt, err)
						}
						vm, err := NewVM(prog)
						if err != nil {
							t.Fatalf("%q: %v", expr, err)
						}
						if got := vm.Run(tt.frame, len(tt.frame), nil) != 0; got != want {
							t.Errorf("%q (noopt %v) on the frame: %v, want %v", expr, noOpt, got, want)
						}
					}
				}
			}
		})
	}
}

// TestEncapsulationOverVariableHeaders checks that the offsets of a
// variable-length link header are computed in the registers the outer
// tests read when a tunnel changes the link layer ("vxlan", "geneve"
// over radiotap or pflog): libpcap computes them into the tunnel's
// registers, so its program reads registers before writing them and the
// kernel refuses it.
func TestEncapsulationOverVariableHeaders(t *testing.T) {
	inner := confEth(confMacB, confMacA, 0x0800, confIPv4(confIP4A, confIP4B, 6, 0, nil, confTCP(1234, 80, 0x02)))
	vxlanHdr := []byte{0x08, 0, 0, 0, 0, 0, 0x2a, 0}
	outer := confIPv4(confIP4B, confIP4A, 17, 0, nil, confUDP(5555, vxlanPort, confCat(vxlanHdr, inner)))
	snap := []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}
	wlan := confCat([]byte{0x08, 0x00, 0, 0}, confMacB, confMacA, confMacB, []byte{0, 0})
	radiotap := confCat([]byte{0, 0}, binary.LittleEndian.AppendUint16(nil, 8), make([]byte, 4))
	pflog := confCat([]byte{61, 2}, make([]byte, 62))
	tests := []struct {
		name  string
		lt    LinkType
		frame []byte
	}{
		{"radiotap", 127, confCat(radiotap, wlan, snap, outer)},
		{"pflog", 117, confCat(pflog, outer)},
	}
	for _, tt := range tests {
		for _, expr := range []string{"vxlan and tcp dst port 80", "vxlan 42 and ip host 10.0.0.1"} {
			prog, err := Compile(expr, Options{LinkType: tt.lt})
			if err != nil {
				t.Fatalf("%s: %q: %v", tt.name, expr, err)
			}
			if err := Check(prog); err != nil {
				t.Errorf("%s: %q: the kernel's checker refuses it: %v\n%s", tt.name, expr, err, mustListing(t, prog))
			}
			vm, err := NewVM(prog)
			if err != nil {
				t.Fatal(err)
			}
			if vm.Run(tt.frame, len(tt.frame), nil) == 0 {
				t.Errorf("%s: %q rejects the frame", tt.name, expr)
			}
			other := bytes.Replace(tt.frame, confBE16(vxlanPort), confBE16(vxlanPort+1), 1)
			if vm.Run(other, len(other), nil) != 0 {
				t.Errorf("%s: %q accepts a frame to another UDP port", tt.name, expr)
			}
		}
	}
}

func mustListing(t *testing.T, prog []bpf.Instruction) string {
	t.Helper()
	s, err := Listing(prog)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
