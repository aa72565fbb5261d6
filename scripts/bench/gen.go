package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
)

// Ports of the generated UDP frames: the half filter keeps keepPort.
const (
	keepPort = 9999
	dropPort = 9998
	srcPort  = 40000
)

// fakeMAC is the destination of the generated frames: no interface has it,
// so the receiving end's IP stack drops the frames as PACKET_OTHERHOST.
var fakeMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0xbe, 0x4c, 0x01}

// genReport is what the generator prints on stdout when it is done.
type genReport struct {
	Sent int           `json:"sent"`
	Took time.Duration `json:"took_ns"`
}

// runGen is the generator (`bench gen ...`), run inside the namespace by
// `ip netns exec`: it sends -n frames of -size bytes out of -if as fast as
// sendmmsg(2) goes, or at -rate frames per second, stopping early after
// -timeout, and prints a genReport.
func runGen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench gen", flag.ContinueOnError)
	ifname := fs.String("if", "", "interface to send on")
	size := fs.Int("size", 60, "frame size in bytes, without the FCS")
	n := fs.Int("n", 1_000_000, "frames to send")
	half := fs.Bool("half", false, "send every other frame to the port the filter drops")
	src := fs.String("src", "", "source IPv4 address")
	dst := fs.String("dst", "", "destination IPv4 address")
	timeout := fs.Duration("timeout", 60*time.Second, "stop sending after this long")
	rate := fs.Int("rate", 0, "frames per second (0: as fast as it goes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srcIP, err := netip.ParseAddr(*src)
	if err != nil {
		return fmt.Errorf("-src: %w", err)
	}
	dstIP, err := netip.ParseAddr(*dst)
	if err != nil {
		return fmt.Errorf("-dst: %w", err)
	}
	ifi, err := net.InterfaceByName(*ifname)
	if err != nil {
		return err
	}
	s, err := netns.NewSender(ifi.Index)
	if err != nil {
		return err
	}
	defer s.Close()

	// One batch of distinct frames, sent over and over.
	batch := make([][]byte, 1024)
	for i := range batch {
		port := uint16(keepPort)
		if *half && i%2 == 1 {
			port = dropPort
		}
		batch[i] = udpFrame(*size, ifi.HardwareAddr, fakeMAC, srcIP, dstIP, port, uint32(i))
	}
	// At a set rate the frames go out in batches of about a millisecond's
	// worth, each when the schedule says it is due: the timer's lateness
	// is made up by the next batch, so the average rate holds.
	step := len(batch)
	if *rate > 0 {
		step = min(len(batch), max(1, *rate/1000))
	}
	start := time.Now()
	end := start.Add(*timeout)
	sent := 0
	for sent < *n && time.Now().Before(end) {
		if *rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(*rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		k, err := s.Send(batch[:min(step, *n-sent)])
		sent += k
		if err != nil {
			return err
		}
	}
	return json.NewEncoder(stdout).Encode(genReport{Sent: sent, Took: time.Since(start)})
}

// udpFrame builds an Ethernet/IPv4/UDP frame of size bytes (at least 42)
// to port dport, with seq at the start of its payload.
func udpFrame(size int, srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, dport uint16, seq uint32) []byte {
	size = max(size, 14+20+8+4)
	f := make([]byte, size)
	copy(f[0:6], dstMAC)
	copy(f[6:12], srcMAC)
	be := binary.BigEndian
	be.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	be.PutUint16(ip[2:], uint16(len(ip)))
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:16], s4[:])
	copy(ip[16:20], d4[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(be.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	be.PutUint16(ip[10:], ^uint16(sum))
	udp := ip[20:]
	be.PutUint16(udp[0:], srcPort)
	be.PutUint16(udp[2:], dport)
	be.PutUint16(udp[4:], uint16(len(udp)))
	be.PutUint32(udp[8:], seq)
	return f
}
