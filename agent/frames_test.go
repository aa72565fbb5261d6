package agent

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// testFrame returns an Ethernet/IPv4/UDP frame of n bytes (n >= 42) from
// 198.18.0.1:port to 198.18.0.2:9.
func testFrame(n int, port uint16) []byte {
	payload := make([]byte, n-42)
	for i := range payload {
		payload[i] = byte((42 + i) * 7)
	}
	return testenv.UDPFrame(net.HardwareAddr{0x02, 0, 0, 0, 0, 2}, net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), port, 9, payload)
}

// testPackets returns n frames of assorted sizes with nanosecond timestamps.
func testPackets(n int) []afpacket.Packet {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).UnixNano()
	out := make([]afpacket.Packet, n)
	for i := range out {
		size := 42 + r.IntN(1500)
		d := testFrame(size, uint16(1000+i))
		out[i] = afpacket.Packet{
			Timestamp: base + int64(i)*1_000_003, Data: d, CaptureLength: size, Length: size + r.IntN(3)*100,
		}
	}
	return out
}
