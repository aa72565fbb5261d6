//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

func TestVLAN(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	hostSender, err := netns.NewSender(pair.HostIndex)
	if err != nil {
		t.Fatal(err)
	}
	defer hostSender.Close()
	c := open(t, pair.Host, afpacket.Config{})

	tests := []struct {
		name     string
		tags     [][2]uint16
		fromHost bool // sent out of the host end: the outgoing copy keeps its tag in the frame
		meta     bool // the kernel moved the outer tag into ring metadata
		wantTPID uint16
	}{
		{name: "802.1Q received: tag in metadata", tags: [][2]uint16{{0x8100, 3<<13 | 100}}, meta: true, wantTPID: 0x8100},
		{name: "802.1Q priority tag (VID 0)", tags: [][2]uint16{{0x8100, 5 << 13}}, meta: true, wantTPID: 0x8100},
		{name: "802.1ad received", tags: [][2]uint16{{0x88a8, 200}}, meta: true, wantTPID: 0x88a8},
		{name: "QinQ received: outer in metadata, inner in frame", tags: [][2]uint16{{0x88a8, 300}, {0x8100, 400}}, meta: true, wantTPID: 0x88a8},
		{name: "802.1Q sent: tag in frame", tags: [][2]uint16{{0x8100, 500}}, fromHost: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent [][]byte
			for j := range 3 {
				sent = append(sent, frame(pair.PeerMAC, pair.HostMAC, tt.tags, uint32(i*10+j), 80+j*500))
			}
			if tt.fromHost {
				_, err = hostSender.Send(sent)
			} else {
				err = pair.Send(sent)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, c, len(sent), 500*time.Millisecond)
			if len(got) != len(sent) {
				t.Fatalf("captured %d frames, want %d", len(got), len(sent))
			}
			for j, p := range got {
				if !bytes.Equal(p.Data, sent[j]) {
					t.Errorf("frame %d:\n got %x\nwant %x", j, p.Data, sent[j])
				}
				if p.CaptureLength != len(sent[j]) || p.Length != len(sent[j]) {
					t.Errorf("frame %d: CaptureLength %d Length %d, want %d", j, p.CaptureLength, p.Length, len(sent[j]))
				}
				if p.VLANPresent != tt.meta {
					t.Errorf("frame %d: VLANPresent %v, want %v", j, p.VLANPresent, tt.meta)
				}
				if tt.meta && (p.VLANTPID != tt.wantTPID || p.VLANTCI != tt.tags[0][1]) {
					t.Errorf("frame %d: VLANTPID %#x VLANTCI %#x, want %#x %#x", j, p.VLANTPID, p.VLANTCI, tt.wantTPID, tt.tags[0][1])
				}
			}
		})
	}
}

// TestLoopbackOnce sends UDP datagrams over the loopback of a fresh network
// namespace and checks that each is captured exactly once.
func TestLoopbackOnce(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netns.New(t)
	var (
		c       *afpacket.Conn
		rx, tx  *net.UDPConn
		loIfidx int
	)
	err := ns.Do(func() error {
		var err error
		if c, err = afpacket.Open("lo", afpacket.Config{}); err != nil {
			return err
		}
		if rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		if tx, err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr)); err != nil {
			return err
		}
		lo, err := net.InterfaceByName("lo")
		if err == nil {
			loIfidx = lo.Index
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); rx.Close(); tx.Close() }()
	if c.LinkType() != afpacket.LinkTypeEthernet {
		t.Errorf("LinkType of lo = %d, want EN10MB", c.LinkType())
	}

	const n = 20
	for i := range n {
		if _, err := fmt.Fprintf(tx, "pcapd-lo-%02d", i); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for {
		p, err := c.ReadPacket(context.Background(), time.Now().Add(300*time.Millisecond))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.IfIndex != loIfidx {
			t.Errorf("IfIndex %d, want lo's %d", p.IfIndex, loIfidx)
		}
		if i := bytes.Index(p.Data, []byte("pcapd-lo-")); i >= 0 {
			seen[string(p.Data[i:])]++
		}
	}
	for i := range n {
		if k := fmt.Sprintf("pcapd-lo-%02d", i); seen[k] != 1 {
			t.Errorf("datagram %q seen %d times, want once", k, seen[k])
		}
	}
}
