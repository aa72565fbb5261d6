package pktsummary

import (
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
		{113, []byte{1, 2, 3}, "link type 113, 3 bytes"},
	} {
		if got := Summarize(tc.lt, tc.b); got != tc.want {
			t.Errorf("Summarize = %q, want %q", got, tc.want)
		}
	}
}
