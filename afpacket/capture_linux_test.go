//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// testEtherType is an IEEE local experimental EtherType: no stack answers
// it, so test frames cause no traffic of their own.
const testEtherType = 0x88b5

// frame builds an Ethernet frame from src to dst with EtherType
// testEtherType after the given VLAN tags (outermost first; TPID, TCI),
// carrying seq and filler up to size bytes.
func frame(dst, src net.HardwareAddr, tags [][2]uint16, seq uint32, size int) []byte {
	return testenv.EtherFrame(dst, src, tags, testEtherType, seq, size)
}

// isTest reports whether b is a test frame: EtherType testEtherType after
// any VLAN tags in the frame.
func isTest(b []byte) bool {
	off := 12
	for off+2 <= len(b) {
		switch binary.BigEndian.Uint16(b[off:]) {
		case 0x8100, 0x88a8:
			off += 4
		case testEtherType:
			return true
		default:
			return false
		}
	}
	return false
}

// assemble assembles a BPF program or fails t.
func assemble(t testing.TB, ins ...bpf.Instruction) []bpf.RawInstruction {
	t.Helper()
	raw, err := bpf.Assemble(ins)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// etherTypeFilter accepts frames whose EtherType (after a tag the kernel
// removed) is typ, keeping snaplen bytes, as libpcap's "ether proto" does.
func etherTypeFilter(t testing.TB, typ uint16, snaplen uint32) []bpf.RawInstruction {
	return assemble(t,
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(typ), SkipFalse: 1},
		bpf.RetConstant{Val: snaplen},
		bpf.RetConstant{Val: 0},
	)
}

// etherTypeFilterAt accepts frames with the 16-bit value v at offset off.
func etherTypeFilterAt(t testing.TB, off uint32, v uint16) []bpf.RawInstruction {
	return assemble(t,
		bpf.LoadAbsolute{Off: off, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(v), SkipFalse: 1},
		bpf.RetConstant{Val: 262144},
		bpf.RetConstant{Val: 0},
	)
}

// open opens a handle or fails t, and closes it when t ends.
func open(t testing.TB, ifname string, cfg afpacket.Config) *afpacket.Conn {
	t.Helper()
	c, err := afpacket.Open(ifname, cfg)
	if err != nil {
		t.Fatalf("Open(%q): %v", ifname, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// collect reads until want test frames arrived or no frame came for quiet,
// and returns copies of the test frames (other frames are skipped).
func collect(t testing.TB, c *afpacket.Conn, want int, quiet time.Duration) []afpacket.Packet {
	t.Helper()
	var out []afpacket.Packet
	for len(out) < want {
		p, err := c.ReadPacket(context.Background(), time.Now().Add(quiet))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
		if !isTest(p.Data) {
			continue
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
	return out
}

func TestCaptureFrames(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)

	var sent [][]byte
	for i := range 300 {
		size := 60 + (i*37)%1455 // 60..1514
		dst := pair.HostMAC
		if i%3 == 0 {
			dst = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		}
		sent = append(sent, frame(dst, pair.PeerMAC, nil, uint32(i), size))
	}
	tests := []struct {
		name    string
		snaplen int
		filter  bool
	}{
		{name: "whole frames", snaplen: 0},
		{name: "snaplen 100", snaplen: 100},
		{name: "snaplen 100 by the filter", snaplen: 100, filter: true},
		{name: "snaplen 14", snaplen: 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := afpacket.Config{Snaplen: tt.snaplen}
			if tt.filter {
				cfg.Filter = etherTypeFilter(t, testEtherType, uint32(tt.snaplen))
			}
			c := open(t, pair.Host, cfg)
			if c.LinkType() != afpacket.LinkTypeEthernet {
				t.Errorf("LinkType = %d, want %d", c.LinkType(), afpacket.LinkTypeEthernet)
			}
			snap := tt.snaplen
			if snap == 0 {
				snap = afpacket.DefaultSnaplen
			}
			if c.Snaplen() != snap {
				t.Errorf("Snaplen = %d, want %d", c.Snaplen(), snap)
			}
			start := time.Now()
			if err := pair.Send(sent); err != nil {
				t.Fatal(err)
			}
			got := collect(t, c, len(sent), 500*time.Millisecond)
			end := time.Now()
			if len(got) != len(sent) {
				t.Fatalf("captured %d frames, want %d", len(got), len(sent))
			}
			var last int64
			for i, p := range got {
				w := sent[i]
				if len(w) > snap {
					w = w[:snap]
				}
				if !bytes.Equal(p.Data, w) {
					t.Fatalf("frame %d:\n got %x\nwant %x", i, p.Data, w)
				}
				if p.CaptureLength != len(w) || p.Length != len(sent[i]) {
					t.Errorf("frame %d: CaptureLength %d Length %d, want %d %d", i, p.CaptureLength, p.Length, len(w), len(sent[i]))
				}
				if p.Timestamp < start.UnixNano() || p.Timestamp > end.UnixNano() {
					t.Errorf("frame %d: timestamp %v outside [%v, %v]", i, time.Unix(0, p.Timestamp), start, end)
				}
				if p.Timestamp < last {
					t.Errorf("frame %d: timestamp %d before the previous %d", i, p.Timestamp, last)
				}
				last = p.Timestamp
				wantType := uint8(unix.PACKET_HOST)
				if i%3 == 0 {
					wantType = unix.PACKET_BROADCAST
				}
				if p.IfIndex != pair.HostIndex || p.PacketType != wantType || p.Protocol != testEtherType || p.VLANPresent {
					t.Errorf("frame %d: IfIndex %d PacketType %d Protocol %#x VLANPresent %v, want %d %d %#x false",
						i, p.IfIndex, p.PacketType, p.Protocol, p.VLANPresent, pair.HostIndex, wantType, testEtherType)
				}
			}
		})
	}
}
