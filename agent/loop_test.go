package agent

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// ringHandle hands out prepared frames round-robin without allocating, as
// afpacket's ring does.
type ringHandle struct {
	pkts []afpacket.Packet
	i    int
}

func (h *ringHandle) ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error) {
	if len(h.pkts) == 0 {
		return afpacket.Packet{}, os.ErrDeadlineExceeded
	}
	p := h.pkts[h.i%len(h.pkts)]
	h.i++
	return p, nil
}
func (h *ringHandle) Stats() (afpacket.Stats, error) { return afpacket.Stats{}, nil }
func (h *ringHandle) LinkType() uint32               { return 1 }
func (h *ringHandle) Snaplen() int                   { return 262144 }
func (h *ringHandle) Close() error                   { return nil }

// runLoop runs the capture loop for n packets into a fresh buffer.
func runLoop(tb testing.TB, a *Agent, format string, n int, h Handle) *capfile.Buffer {
	s := &session{
		a: a, log: a.log,
		p:  &plan{packets: int64(n), bytes: 1 << 62, timeout: time.Hour, duration: time.Hour, snaplen: 262144, format: format},
		cp: capturePlan{target: target{iface: "eth0"}, linkType: 1}, snaplen: 262144, linkType: 1,
		live: &liveCounters{iface: "eth0"}, // as a request's session has
	}
	buf := capfile.NewBuffer(a.pool)
	var w fileWriter = capfile.NewPcapWriter(buf, 1, 262144)
	if format == FormatPcapNG {
		w = capfile.NewPcapngWriter(buf, 1, 262144, "eth0")
	}
	var count uint64
	reason, err := s.loop(context.Background(), h, w, buf, time.Now(), &count)
	if err != nil || reason != StopPackets || count != uint64(n) {
		tb.Fatalf("loop: %v %q after %d packets", err, reason, count)
	}
	return buf
}

// TestLoopAllocations checks that the capture loop, from ReadPacket to the
// buffer, does not allocate per packet.
func TestLoopAllocations(t *testing.T) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 20, FreeChunks: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	h := &ringHandle{pkts: testPackets(64)}
	for _, format := range []string{FormatPcap, FormatPcapNG} {
		runLoop(t, a, format, 20000, h).Release() // warm the chunk pool
		const n = 20000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		buf := runLoop(t, a, format, n, h)
		runtime.ReadMemStats(&after)
		buf.Release()
		// A handful of allocations per capture (the chunk list growing) is
		// fine; one per packet is not.
		if allocs := after.Mallocs - before.Mallocs; allocs > 20 {
			t.Errorf("%s: %d allocations for %d packets", format, allocs, n)
		}
	}
}

func BenchmarkCaptureLoop(b *testing.B) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 20, FreeChunks: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	// Mixed sizes (42 to 1541 bytes), and minimal frames, where the loop's
	// own per-packet cost shows rather than the copy.
	small := make([]afpacket.Packet, 256)
	for i := range small {
		small[i] = afpacket.Packet{Timestamp: int64(i) * 1000, Data: testFrame(60, uint16(i)), CaptureLength: 60, Length: 60}
	}
	for _, tc := range []struct {
		name, format string
		pkts         []afpacket.Packet
	}{
		{FormatPcap, FormatPcap, testPackets(256)},
		{FormatPcapNG, FormatPcapNG, testPackets(256)},
		{FormatPcap + "-60B", FormatPcap, small},
	} {
		h := &ringHandle{pkts: tc.pkts}
		b.Run(tc.name, func(b *testing.B) {
			const per = 50000 // packets per capture, then the buffer is recycled
			b.ReportAllocs()
			for b.Loop() {
				runLoop(b, a, tc.format, per, h).Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/packet")
		})
	}
}

// TestCancelBusyRing cancels a capture whose handle never runs dry and
// never looks at its context (a busy ring within one block): the loop
// notices the cancellation by itself.
func TestCancelBusyRing(t *testing.T) {
	ta := newTestAgent(t, Config{MaxPackets: 1 << 40, MaxBytes: 1 << 40, MaxMemory: 1 << 62},
		WithOpener(func(string, afpacket.Config) (Handle, error) {
			return &ringHandle{pkts: testPackets(16)}, nil
		}))
	id := submit(t, ta, `{"node":"any","interface":["eth0"]}`)
	time.Sleep(5 * time.Millisecond)
	if err := ta.Cancel(id); err != nil {
		t.Fatal(err)
	}
	if r := ta.result(t); r.StopReason != StopCancelled {
		t.Errorf("result %+v, want cancelled", r)
	}
}
