//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestFilterBeforeBind opens handles over and over while the link is
// flooded with frames the filter refuses: none may ever be seen, because
// the filter is attached before the socket is bound.
func TestFilterBeforeBind(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct {
		name string
		open func(t *testing.T) func(string, afpacket.Config) (*afpacket.Conn, error)
	}{
		{"Open", func(*testing.T) func(string, afpacket.Config) (*afpacket.Conn, error) { return afpacket.Open }},
		{"Pool", poolOpener},
	} {
		t.Run(tc.name, func(t *testing.T) { filterBeforeBind(t, tc.open(t)) })
	}
}

func filterBeforeBind(t *testing.T, openFn func(string, afpacket.Config) (*afpacket.Conn, error)) {
	pair := netns.NewVethPair(t)

	noise := frame(pair.HostMAC, pair.PeerMAC, nil, 0, 60)
	binary.BigEndian.PutUint16(noise[12:], testEtherType+1)
	batch := make([][]byte, 256)
	for i := range batch {
		batch[i] = noise
	}
	stop := make(chan struct{})
	var (
		wg    sync.WaitGroup
		flood int
	)
	wg.Go(func() {
		end := time.Now().Add(10 * time.Second) // bound, in case the test stalls
		for flood < 5_000_000 && time.Now().Before(end) {
			select {
			case <-stop:
				return
			default:
			}
			if err := pair.Send(batch); err != nil {
				t.Error(err)
				return
			}
			flood += len(batch)
		}
	})
	defer func() { close(stop); wg.Wait(); t.Logf("flooded %d refused frames", flood) }()

	for round := range 30 {
		c, err := openFn(pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535)})
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for i := range 5 {
			want = append(want, frame(pair.HostMAC, pair.PeerMAC, nil, uint32(round*5+i), 100))
		}
		if err := pair.Send(want); err != nil {
			t.Fatal(err)
		}
		got := 0
		for got < len(want) {
			p, err := c.ReadPacket(context.Background(), time.Now().Add(time.Second))
			if err != nil {
				t.Fatalf("round %d: ReadPacket after %d frames: %v", round, got, err)
			}
			if !bytes.Equal(p.Data, want[got]) {
				t.Fatalf("round %d: frame %d is\n%x, want\n%x", round, got, p.Data, want[got])
			}
			got++
		}
		c.Close()
	}
}

func TestFilterRejected(t *testing.T) {
	testenv.RequireRoot(t)
	long := make([]bpf.RawInstruction, 5000) // over BPF_MAXINSNS
	for i := range long {
		long[i] = bpf.RawInstruction{Op: unix.BPF_RET | unix.BPF_K}
	}
	tests := []struct {
		name   string
		filter []bpf.RawInstruction
		reject bool
	}{
		{"backward ja", []bpf.RawInstruction{
			{Op: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS},
			{Op: unix.BPF_JMP | unix.BPF_JA, K: 0xffffffff}, // k is unsigned: "-1"
			{Op: unix.BPF_RET | unix.BPF_K},
		}, true},
		{"jump past the end", []bpf.RawInstruction{
			{Op: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 5},
			{Op: unix.BPF_RET | unix.BPF_K},
		}, true},
		{"no return", []bpf.RawInstruction{{Op: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS}}, true},
		{"too long", long, true},
		{"valid", etherTypeFilter(t, testEtherType, 65535), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := afpacket.Open("lo", afpacket.Config{Filter: tt.filter})
			if !tt.reject {
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded, want ErrFilterRejected")
			}
			if !errors.Is(err, afpacket.ErrFilterRejected) {
				t.Errorf("Open = %v, want ErrFilterRejected", err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "open" || oe.Addr.String() != "lo" {
				t.Errorf("Open = %#v, want a *net.OpError naming lo", err)
			}
		})
	}
}

// TestMatch filters in user space, as the agent does when the kernel
// refuses a program.
func TestMatch(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Match: func(p *afpacket.Packet) bool {
		// As a kernel filter would see it: the tag is in metadata only.
		return p.Protocol == testEtherType && p.VLANPresent && p.VLANTCI%2 == 0 &&
			binary.BigEndian.Uint16(p.Data[12:]) == testEtherType
	}})
	var sent, want [][]byte
	for i := range 20 {
		f := frame(pair.HostMAC, pair.PeerMAC, [][2]uint16{{0x8100, uint16(i)}}, uint32(i), 100)
		sent = append(sent, f)
		if i%2 == 0 {
			want = append(want, f)
		}
	}
	if err := pair.Send(sent); err != nil {
		t.Fatal(err)
	}
	got := collect(t, c, len(sent), 300*time.Millisecond)
	if len(got) != len(want) {
		t.Fatalf("captured %d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Errorf("frame %d:\n got %x\nwant %x", i, got[i].Data, want[i])
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   afpacket.Config
		field string
	}{
		{"negative snaplen", afpacket.Config{Snaplen: -1}, "Config.Snaplen"},
		{"block not a page multiple", afpacket.Config{BlockSize: 1000}, "Config.BlockSize"},
		{"negative blocks", afpacket.Config{NumBlocks: -2}, "Config.NumBlocks"},
		{"negative timeout", afpacket.Config{BlockTimeout: -time.Second}, "Config.BlockTimeout"},
		{"ring too large", afpacket.Config{BlockSize: 1 << 30, NumBlocks: 4}, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := afpacket.Open("lo", tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Open = %v, want an error naming %s", err, tt.field)
			}
			if _, err := tt.cfg.RingSize(); err == nil {
				t.Errorf("RingSize accepts the config")
			}
		})
	}
	if n, err := (afpacket.Config{}).RingSize(); err != nil || n != afpacket.DefaultBlockSize*afpacket.DefaultNumBlocks {
		t.Errorf("RingSize of the zero Config = %d, %v; want the defaults' %d", n, err, afpacket.DefaultBlockSize*afpacket.DefaultNumBlocks)
	}
}

func TestOpenNoSuchInterface(t *testing.T) {
	testenv.RequireRoot(t)
	const name = "pdnosuch0"
	_, err := afpacket.Open(name, afpacket.Config{})
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "no such network interface") {
		t.Fatalf("Open(%q) = %v, want an error naming the missing interface", name, err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || !errors.Is(err, afpacket.ErrNoSuchInterface) {
		t.Errorf("error %#v is not a *net.OpError wrapping ErrNoSuchInterface", err)
	}
}
