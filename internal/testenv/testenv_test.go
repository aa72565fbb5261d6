package testenv

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func TestUDPFrame(t *testing.T) {
	dstMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	srcMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	for _, tc := range []struct {
		name         string
		sport, dport uint16
		payload      []byte
	}{
		{"empty", 40000, 9, nil},
		{"odd length", 1234, 9999, []byte("hello")},
		{"full size", 40000, 9, bytes.Repeat([]byte{0xa5}, 1472)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := UDPFrame(dstMAC, srcMAC, src, dst, tc.sport, tc.dport, tc.payload)
			if want := 14 + 20 + 8 + len(tc.payload); len(f) != want {
				t.Fatalf("len %d, want %d", len(f), want)
			}
			// The IPv4 header sums to 0xffff with its checksum in.
			var sum uint32
			for i := 14; i < 34; i += 2 {
				sum += uint32(binary.BigEndian.Uint16(f[i:]))
			}
			for sum > 0xffff {
				sum = sum&0xffff + sum>>16
			}
			if sum != 0xffff {
				t.Errorf("IPv4 header checksum does not verify: sum %#x", sum)
			}
			pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
			eth, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
			ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if eth == nil || ip == nil || udp == nil {
				t.Fatalf("does not decode as Ethernet/IPv4/UDP: %v", pkt)
			}
			if !bytes.Equal(eth.DstMAC, dstMAC) || !bytes.Equal(eth.SrcMAC, srcMAC) {
				t.Errorf("MACs %v > %v", eth.SrcMAC, eth.DstMAC)
			}
			if ip.SrcIP.String() != src.String() || ip.DstIP.String() != dst.String() || ip.TTL != 64 || int(ip.Length) != len(f)-14 {
				t.Errorf("IPv4 %v > %v ttl %d length %d", ip.SrcIP, ip.DstIP, ip.TTL, ip.Length)
			}
			if uint16(udp.SrcPort) != tc.sport || uint16(udp.DstPort) != tc.dport || int(udp.Length) != 8+len(tc.payload) {
				t.Errorf("UDP %d > %d length %d", udp.SrcPort, udp.DstPort, udp.Length)
			}
			if !bytes.Equal(udp.Payload, tc.payload) && len(tc.payload) > 0 {
				t.Errorf("payload %x, want %x", udp.Payload, tc.payload)
			}
		})
	}
}

func BenchmarkUDPFrame(b *testing.B) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	payload := make([]byte, 1472)
	b.ReportAllocs()
	for b.Loop() {
		UDPFrame(mac, mac, src, dst, 40000, 9, payload)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			b.Write([]byte("ab"))
		}
	}()
	for range 100 {
		_ = b.String() // concurrent reads: go test -race checks this
	}
	<-done
	if got := b.String(); got != strings.Repeat("ab", 100) {
		t.Errorf("String() = %q", got)
	}
}
