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
		c, err := afpacket.Open(pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535)})
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
		c        *afpacket.Conn
		rx, tx   *net.UDPConn
		loIfidx  int
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

func TestCloseUnblocksRead(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c, err := afpacket.Open(pair.Host, afpacket.Config{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReadPacket(context.Background(), time.Time{})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked ReadPacket returned %v, want net.ErrClosed", err)
		}
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("ReadPacket returned %v after Close", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadPacket still blocked 2s after Close")
	}
	if _, err := c.ReadPacket(context.Background(), time.Time{}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadPacket after Close = %v, want net.ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := c.Stats(); err != nil {
		t.Errorf("Stats after Close = %v, want the totals", err)
	}
}

// TestCloseWhileReading closes the handle while a reader walks blocks of a
// flooded link: the reader must end with net.ErrClosed, never fault.
func TestCloseWhileReading(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	f := frame(pair.HostMAC, pair.PeerMAC, []([2]uint16){{0x8100, 7}}, 1, 60)
	batch := make([][]byte, 256)
	for i := range batch {
		batch[i] = f
	}
	for round := range 5 {
		c, err := afpacket.Open(pair.Host, afpacket.Config{BlockSize: 64 << 10, NumBlocks: 4, BlockTimeout: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pair.Send(batch)
			}
		})
		errc := make(chan error, 1)
		var n int
		go func() {
			for {
				_, err := c.ReadPacket(context.Background(), time.Now().Add(5*time.Second))
				if err != nil {
					errc <- err
					return
				}
				n++
			}
		}()
		time.Sleep(time.Duration(20+round*10) * time.Millisecond)
		c.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("round %d: reader ended with %v after %d frames, want net.ErrClosed", round, err, n)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: reader still running 2s after Close", round)
		}
		close(stop)
		wg.Wait()
	}
}

func TestContextCancel(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535)})

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.ReadPacket(ctx, time.Time{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadPacket = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond || d > 300*time.Millisecond {
		t.Errorf("cancelled ReadPacket returned after %v, want ~50ms", d)
	}

	// The wake-up must not leak into the next call.
	start = time.Now()
	_, err = c.ReadPacket(context.Background(), start.Add(60*time.Millisecond))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadPacket after a cancel = %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("ReadPacket after a cancel gave up after %v, want its own 60ms deadline", d)
	}

	// An ended context with a deadline, and one ended before the call.
	tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer tcancel()
	if _, err := c.ReadPacket(tctx, time.Time{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadPacket with a timed-out context = %v, want context.DeadlineExceeded", err)
	}
	if _, err := c.ReadPacket(ctx, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadPacket with a cancelled context = %v, want context.Canceled", err)
	}

	// And frames still arrive, read with a live cancellable context.
	want := frame(pair.HostMAC, pair.PeerMAC, nil, 42, 64)
	if err := pair.Send([][]byte{want}); err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer lcancel()
	p, err := c.ReadPacket(lctx, time.Time{})
	if err != nil || !bytes.Equal(p.Data, want) {
		t.Fatalf("ReadPacket = %x, %v; want the frame sent", p.Data, err)
	}
}

func TestDeadline(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535)})
	tests := []struct {
		name     string
		after    time.Duration
		min, max time.Duration
	}{
		{"in the past", -time.Second, 0, 50 * time.Millisecond},
		{"100ms", 100 * time.Millisecond, 95 * time.Millisecond, 500 * time.Millisecond},
		{"30ms", 30 * time.Millisecond, 25 * time.Millisecond, 400 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := c.ReadPacket(context.Background(), start.Add(tt.after))
			d := time.Since(start)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("ReadPacket = %v, want os.ErrDeadlineExceeded", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("error %v is not a net.Error with Timeout()", err)
			}
			if d < tt.min || d > tt.max {
				t.Errorf("returned after %v, want within [%v, %v]", d, tt.min, tt.max)
			}
		})
	}
}

// TestStatsDrops overflows a tiny ring and checks the kernel's counters:
// every frame passed the filter, and those not in the ring were dropped.
func TestStatsDrops(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{
		BlockSize: os.Getpagesize(), NumBlocks: 2,
		Filter: etherTypeFilter(t, testEtherType, 65535),
	})
	const n = 3000
	sent := make([][]byte, n)
	for i := range sent {
		sent[i] = frame(pair.HostMAC, pair.PeerMAC, nil, uint32(i), 1000)
	}
	if err := pair.Send(sent); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	read := len(collect(t, c, n, 100*time.Millisecond))
	t.Logf("stats %+v, read %d", st, read)
	if st.Packets != n {
		t.Errorf("Stats.Packets = %d, want %d (frames that passed the filter)", st.Packets, n)
	}
	if st.Drops == 0 || uint64(read)+st.Drops != st.Packets {
		t.Errorf("Stats.Drops = %d with %d frames read, want read + drops = %d", st.Drops, read, st.Packets)
	}
	again, err := c.Stats()
	if err != nil || again != st {
		t.Errorf("second Stats = %+v, %v; want the same totals %+v", again, err, st)
	}
	c.Close()
	if after, err := c.Stats(); err != nil || after != st {
		t.Errorf("Stats after Close = %+v, %v; want %+v", after, err, st)
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

func TestOpenNoSuchInterface(t *testing.T) {
	testenv.RequireRoot(t)
	const name = "pdnosuch0"
	_, err := afpacket.Open(name, afpacket.Config{})
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "no such network interface") {
		t.Fatalf("Open(%q) = %v, want an error naming the missing interface", name, err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Errorf("error %T is not a *net.OpError", err)
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
		})
	}
}

// TestReadPacketAllocs guards the per-packet path of a real ring.
func TestReadPacketAllocs(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535)})
	sent := make([][]byte, 600)
	for i := range sent {
		sent[i] = frame(pair.HostMAC, pair.PeerMAC, [][2]uint16{{0x8100, 1}}, uint32(i), 64)
	}
	if err := pair.Send(sent); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the block timeout hand the block over
	ctx := context.Background()
	var n int
	allocs := testing.AllocsPerRun(500, func() {
		p, err := c.ReadPacket(ctx, time.Time{})
		if err == nil {
			n += p.CaptureLength
		}
	})
	if allocs != 0 {
		t.Errorf("ReadPacket allocates %v times per frame, want 0", allocs)
	}
	if n != 501*64 {
		t.Errorf("read %d bytes, want %d", n, 501*64)
	}
}
