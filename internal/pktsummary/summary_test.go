package pktsummary

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// udpFrame is an Ethernet/IPv4/UDP frame of n bytes from 198.18.0.1:sport
// to 198.18.0.2:9.
func udpFrame(n int, sport uint16) []byte {
	return testenv.UDPFrame(net.HardwareAddr{0x02, 0, 0, 0, 0, 2}, net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), sport, 9, make([]byte, n-42))
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		lt   uint32
		b    []byte
		want string
	}{
		{1, udpFrame(60, 53), "UDP 198.18.0.1:53 > 198.18.0.2:9"},
		{1, udpFrame(60, 53)[:20], "truncated IPv4 header"},
		{1, []byte{1, 2}, "truncated ethernet header"},
		{101, udpFrame(60, 7)[14:], "UDP 198.18.0.1:7 > 198.18.0.2:9"},
		{113, []byte{1, 2, 3}, "truncated Linux cooked header"},
		{113, sll(0, 0x0800, udpFrame(60, 8)[14:]), "UDP 198.18.0.1:8 > 198.18.0.2:9"},
		{276, sll2(0x0800, 2, 0, udpFrame(60, 9)[14:]), "eth0  In  UDP 198.18.0.1:9 > 198.18.0.2:9"},
		{276, sll2(0x0800, 7, 4, udpFrame(60, 9)[14:]), "veth-long-name Out UDP 198.18.0.1:9 > 198.18.0.2:9"},
		{276, sll2(0x0800, 99, 1, udpFrame(60, 9)[14:]), "ifindex 99 B   UDP 198.18.0.1:9 > 198.18.0.2:9"},
		{276, sll2(0x0806, 2, 2, make([]byte, 28)), "eth0  M   ARP"},
		{276, sll2(0x88cc, 2, 3, nil), "eth0  P   ethertype 0x88cc"},
		{276, sll2(0x0800, 2, 9, nil), "eth0  ?   empty packet"},
		{276, make([]byte, 19), "truncated Linux cooked v2 header"},
		{0, append([]byte{2, 0, 0, 0}, udpFrame(60, 10)[14:]...), "UDP 198.18.0.1:10 > 198.18.0.2:9"},   // NULL, little-endian host
		{0, append([]byte{0, 0, 0, 2}, udpFrame(60, 11)[14:]...), "UDP 198.18.0.1:11 > 198.18.0.2:9"},   // NULL, big-endian host
		{108, append([]byte{0, 0, 0, 2}, udpFrame(60, 12)[14:]...), "UDP 198.18.0.1:12 > 198.18.0.2:9"}, // LOOP
		{0, []byte{7, 0, 0, 0, 1}, "loopback, address family 7"},
		{228, udpFrame(60, 13)[14:], "UDP 198.18.0.1:13 > 198.18.0.2:9"},
		{147, []byte{1, 2, 3}, "link type 147, 3 bytes"},
	} {
		if got := Describe(tc.lt, tc.b, names); got != tc.want {
			t.Errorf("Summarize = %q, want %q", got, tc.want)
		}
	}
}

// names knows eth0 (2) and a long name (7), as the host would.
func names(i int) (string, bool) {
	switch i {
	case 2:
		return "eth0", true
	case 7:
		return "veth-long-name", true
	}
	return "", false
}

// sll builds a LINUX_SLL frame: packet type, protocol, payload.
func sll(pktType, proto uint16, payload []byte) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h, pktType)
	binary.BigEndian.PutUint16(h[2:], 1)
	binary.BigEndian.PutUint16(h[14:], proto)
	return append(h, payload...)
}

// sll2 builds a LINUX_SLL2 frame: protocol, interface index, packet type.
func sll2(proto uint16, ifindex uint32, pktType byte, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h, proto)
	binary.BigEndian.PutUint32(h[4:], ifindex)
	binary.BigEndian.PutUint16(h[8:], 1)
	h[10] = pktType
	h[11] = 6
	return append(h, payload...)
}

// FuzzDescribe: any bytes of any of the link types it decodes give a line
// and no panic.
func FuzzDescribe(f *testing.F) {
	f.Add(uint32(276), sll2(0x0800, 2, 0, udpFrame(60, 9)[14:]))
	f.Add(uint32(1), udpFrame(60, 53))
	f.Add(uint32(0), []byte{2, 0, 0, 0, 0x45})
	f.Fuzz(func(t *testing.T, lt uint32, b []byte) {
		for _, l := range []uint32{lt, 0, 1, 101, 108, 113, 228, 229, 276} {
			if Describe(l, b, names) == "" {
				t.Fatalf("link type %d: empty line", l)
			}
		}
	})
}
