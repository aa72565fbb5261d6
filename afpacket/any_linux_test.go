//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/sys/unix"
)

// sll2Filter accepts LINUX_SLL2 frames whose protocol field is typ, as
// compiled for the link type (the handle rewrites it for the kernel).
func sll2Filter(t testing.TB, typ uint16) afpacket.Config {
	return afpacket.Config{Filter: etherTypeFilterAt(t, 0, typ)}
}

// TestAnyInterface captures on "any" inside the namespace of a veth pair's
// peer: frames arriving on and leaving the peer come back with a
// LINUX_SLL2 header, and loopback traffic shows once.
func TestAnyInterface(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	hostSender, err := netns.NewSender(pair.HostIndex)
	if err != nil {
		t.Fatal(err)
	}
	defer hostSender.Close()

	var c *afpacket.Conn
	if err := pair.NS.Do(func() error {
		var err error
		c, err = afpacket.Open("any", sll2Filter(t, testEtherType))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.LinkType() != afpacket.LinkTypeLinuxSLL2 {
		t.Fatalf("LinkType = %d, want LINUX_SLL2", c.LinkType())
	}

	tests := []struct {
		name     string
		fromHost bool
		pkttype  uint8
		srcMAC   net.HardwareAddr
	}{
		{"arriving on the peer", true, unix.PACKET_HOST, pair.HostMAC},
		{"leaving the peer", false, unix.PACKET_OUTGOING, pair.PeerMAC},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent [][]byte
			for j := range 3 {
				dst, src := pair.HostMAC, pair.PeerMAC
				if tt.fromHost {
					dst, src = src, dst
				}
				sent = append(sent, frame(dst, src, nil, uint32(i*10+j), 100+j*600))
			}
			if tt.fromHost {
				_, err = hostSender.Send(sent)
			} else {
				err = pair.Send(sent)
			}
			if err != nil {
				t.Fatal(err)
			}
			for j, f := range sent {
				p, err := c.ReadPacket(context.Background(), time.Now().Add(time.Second))
				if err != nil {
					t.Fatalf("frame %d: %v", j, err)
				}
				want := binary.BigEndian.AppendUint16(nil, testEtherType)
				want = append(want, 0, 0)
				want = binary.BigEndian.AppendUint32(want, uint32(pair.PeerIndex))
				want = binary.BigEndian.AppendUint16(want, unix.ARPHRD_ETHER)
				want = append(want, tt.pkttype, 6)
				want = append(append(want, tt.srcMAC...), 0, 0)
				want = append(want, f[14:]...)
				if !bytes.Equal(p.Data, want) {
					t.Errorf("frame %d:\n got %x\nwant %x", j, p.Data, want)
				}
				if p.Length != len(want) || p.IfIndex != pair.PeerIndex || p.PacketType != tt.pkttype {
					t.Errorf("frame %d: Length %d IfIndex %d PacketType %d, want %d %d %d",
						j, p.Length, p.IfIndex, p.PacketType, len(want), pair.PeerIndex, tt.pkttype)
				}
			}
		})
	}

	t.Run("loopback once", func(t *testing.T) {
		var (
			lc     *afpacket.Conn
			rx, tx *net.UDPConn
		)
		err := pair.NS.Do(func() error {
			var err error
			if lc, err = afpacket.Open("any", afpacket.Config{}); err != nil {
				return err
			}
			if rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
				return err
			}
			tx, err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { lc.Close(); rx.Close(); tx.Close() }()
		for i := range 10 {
			fmt.Fprintf(tx, "pcapd-any-%02d", i)
		}
		seen := map[string]int{}
		for {
			p, err := lc.ReadPacket(context.Background(), time.Now().Add(300*time.Millisecond))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if i := bytes.Index(p.Data, []byte("pcapd-any-")); i >= 0 {
				seen[string(p.Data[i:])]++
			}
		}
		for i := range 10 {
			if k := fmt.Sprintf("pcapd-any-%02d", i); seen[k] != 1 {
				t.Errorf("datagram %q seen %d times, want once", k, seen[k])
			}
		}
	})

	t.Run("header field without kernel equivalent", func(t *testing.T) {
		err := pair.NS.Do(func() error {
			c, err := afpacket.Open("any", afpacket.Config{Filter: etherTypeFilterAt(t, 8, unix.ARPHRD_ETHER)})
			if err == nil {
				c.Close()
			}
			return err
		})
		if !errors.Is(err, afpacket.ErrFilterRejected) {
			t.Errorf("Open with a filter on sll2_hatype = %v, want ErrFilterRejected", err)
		}
	})
}
