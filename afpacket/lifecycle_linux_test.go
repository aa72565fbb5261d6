//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

func TestCloseUnblocksRead(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c, err := afpacket.Open(pair.Host, afpacket.Config{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	var returned time.Time // written before errc is sent on
	go func() {
		_, err := c.ReadPacket(context.Background(), time.Time{})
		returned = time.Now()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	// The reader's return is timed by the reader: Close itself goes on to
	// tear the ring down (unmapping 32 MiB takes some 25 ms of kernel time,
	// far more on a loaded machine), after the reader is gone.
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked ReadPacket returned %v, want net.ErrClosed", err)
		}
		if d := returned.Sub(start); d > 200*time.Millisecond {
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
	f := frame(pair.HostMAC, pair.PeerMAC, [][2]uint16{{0x8100, 7}}, 1, 60)
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
			for range 2000 {
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
			if n == 0 {
				t.Errorf("round %d: reader saw no frame before Close", round)
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
	// The frames reach the socket from the veth's receive path; wait
	// until the kernel has counted all of them.
	var st afpacket.Stats
	if !testenv.WaitFor(5*time.Second, func() bool {
		var err error
		st, err = c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.Packets >= n
	}) {
		t.Fatalf("Stats.Packets = %d after 5s, want %d (frames that passed the filter)", st.Packets, n)
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

// TestInterfaceRemoved deletes the interface under a capture: the frames
// already in the ring still come out, then ReadPacket reports the loss,
// promptly, naming the interface. The cases order the removal against the
// reader: parked on an empty ring, parked on a part-filled block, before
// the first read (the kernel's error wake-up comes while nobody waits), and
// after the block timeout handed the frames over but before they are read.
func TestInterfaceRemoved(t *testing.T) {
	testenv.RequireRoot(t)
	const timeout = 100 * time.Millisecond
	tests := []struct {
		name   string
		frames int           // sent before anything else
		settle time.Duration // slept after sending (0: none)
		first  bool          // remove the interface before the reader starts
		parked bool          // let the reader park before the removal
	}{
		{name: "frames in the ring", frames: 3},
		{name: "reader parked", parked: true},
		{name: "removed before the read", frames: 3, first: true},
		{name: "block handed over, then removed", frames: 3, settle: 3 * timeout, first: true},
		{name: "removed before the read, no frames", first: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair := netns.NewVethPair(t)
			c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535), BlockTimeout: timeout})
			var sent [][]byte
			for i := range tt.frames {
				sent = append(sent, frame(pair.HostMAC, pair.PeerMAC, nil, uint32(i), 80))
			}
			if len(sent) > 0 {
				if err := pair.Send(sent); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(tt.settle)
			// The loss is timed from the end of `ip link del`: on a loaded
			// machine the command itself (fork, exec, the kernel's RCU
			// grace periods) can take longer than the bound.
			var took time.Duration
			remove := func() time.Time {
				start := time.Now()
				if out, err := exec.Command("ip", "link", "del", pair.Host).CombinedOutput(); err != nil {
					t.Fatalf("ip link del: %v %s", err, out)
				}
				took = time.Since(start)
				return time.Now()
			}
			var removed time.Time
			if tt.first {
				removed = remove()
			}
			errc := make(chan error, 1)
			got := make(chan []byte, len(sent))
			go func() {
				for {
					p, err := c.ReadPacket(context.Background(), time.Time{})
					if err != nil {
						errc <- err
						return
					}
					got <- bytes.Clone(p.Data)
				}
			}()
			if tt.parked {
				time.Sleep(50 * time.Millisecond)
			}
			if !tt.first {
				removed = remove()
			}
			select {
			case err := <-errc:
				d := time.Since(removed)
				if !errors.Is(err, syscall.ENETDOWN) || !strings.Contains(err.Error(), pair.Host) {
					t.Errorf("ReadPacket = %v, want ENETDOWN naming %s", err, pair.Host)
				}
				if d > time.Second {
					t.Errorf("the loss was reported %v after the removal (ip link del took %v)", d, took)
				}
				if d+took > time.Second {
					t.Logf("slow: reported %v after ip link del, which took %v", d, took)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ReadPacket still running 5s after the interface was removed")
			}
			for i, want := range sent {
				select {
				case p := <-got:
					if !bytes.Equal(p, want) {
						t.Errorf("frame %d: %x, want %x", i, p, want)
					}
				default:
					t.Fatalf("got %d frames before the error, want %d", i, len(sent))
				}
			}
			// The loss is sticky: a later read reports it again, promptly.
			start := time.Now()
			if _, err := c.ReadPacket(context.Background(), time.Time{}); !errors.Is(err, syscall.ENETDOWN) {
				t.Errorf("ReadPacket after the loss = %v, want ENETDOWN again", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("second report took %v", d)
			}
		})
	}
}
