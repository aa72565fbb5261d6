//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/sys/unix"
)

// TestRawLink captures on a tun device (ARPHRD_NONE, link type RAW): the
// IPv4 packets written into the tun come back as they were, with no link
// header.
func TestRawLink(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netns.New(t)
	name := fmt.Sprintf("pdtun%d", os.Getpid()%100000)
	var (
		tun *os.File
		c   *afpacket.Conn
	)
	err := ns.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		tun = os.NewFile(uintptr(fd), "tun")
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		if err := ns.IP("link", "set", name, "up"); err != nil {
			return err
		}
		c, err = afpacket.Open(name, afpacket.Config{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); tun.Close() }()
	if c.LinkType() != afpacket.LinkTypeRaw {
		t.Fatalf("LinkType = %d, want RAW", c.LinkType())
	}

	for i := range 3 {
		pkt := ipv4UDP(198<<24|18<<16|7<<8|2, 198<<24|18<<16|7<<8|1, []byte(fmt.Sprintf("pcapd-raw-%d", i)))
		if _, err := tun.Write(pkt); err != nil {
			t.Fatal(err)
		}
		// The kernel's own IPv6 packets out of the new link (router
		// solicitations, MLD reports) may come between ours: skip them.
		var p afpacket.Packet
		for n := 0; ; n++ {
			p, err = c.ReadPacket(context.Background(), time.Now().Add(time.Second))
			if err != nil || n == 20 {
				t.Fatalf("packet %d: %v (after %d IPv6 packets)", i, err, n)
			}
			if p.Protocol != unix.ETH_P_IPV6 {
				break
			}
		}
		if !bytes.Equal(p.Data, pkt) || p.Length != len(pkt) || p.Protocol != unix.ETH_P_IP {
			t.Errorf("packet %d: %x (Length %d, Protocol %#x), want %x", i, p.Data, p.Length, p.Protocol, pkt)
		}
	}
}

// ipv4UDP builds an IPv4/UDP packet from src to dst (port 9 to 9).
func ipv4UDP(src, dst uint32, payload []byte) []byte {
	b := []byte{0x45, 0, 0, 0, 0, 1, 0, 0, 64, unix.IPPROTO_UDP, 0, 0}
	b = binary.BigEndian.AppendUint32(b, src)
	b = binary.BigEndian.AppendUint32(b, dst)
	binary.BigEndian.PutUint16(b[2:], uint16(20+8+len(payload)))
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	b = append(b, 0, 9, 0, 9)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	return append(b, payload...)
}
