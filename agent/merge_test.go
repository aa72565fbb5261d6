package agent

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

func TestMergeGroupTake(t *testing.T) {
	const header = 100
	for _, tc := range []struct {
		name    string
		packets int64
		bytes   int64
		frames  [][2]int64 // offered in order: timestamp, size
		reached int        // index of the frame that reaches a limit (-1: none)
		reason  StopReason
		after   []bool // ok for the frames offered after the stop
	}{
		// Each frame of 40 bytes is an EPB of 72.
		{"packets", 3, 1 << 40, [][2]int64{{10, 40}, {20, 40}, {30, 40}, {25, 40}, {30, 40}, {31, 40}}, 2, StopPackets,
			[]bool{true, true, false}},
		{"bytes crossed", 1 << 40, header + 150, [][2]int64{{10, 40}, {20, 40}, {30, 40}, {40, 40}}, 2, StopBytes, []bool{false}},
		{"bytes exact", 1 << 40, header + 144, [][2]int64{{10, 40}, {20, 40}, {5, 40}}, 1, StopBytes, []bool{true}},
		{"padding counts", 1 << 40, header + 36, [][2]int64{{1, 1}, {2, 1}}, 0, StopBytes, []bool{false}},
		// An older frame reaching the limit stops at the newest one seen.
		{"stop at the newest", 2, 1 << 40, [][2]int64{{50, 40}, {10, 40}, {40, 40}, {51, 40}}, 1, StopPackets, []bool{true, false}},
		{"no limit", 1 << 40, 1 << 40, [][2]int64{{1, 40}, {2, 40}}, -1, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cause := make(chan error, 1)
			g := newMergeGroup(&plan{packets: tc.packets, bytes: tc.bytes}, header, time.Unix(0, 0), time.Millisecond,
				func(err error) { cause <- err })
			defer g.end()
			stopAt := -1
			var after []bool
			for i, f := range tc.frames {
				r, ok := g.take(f[0], int(f[1]))
				if stopAt >= 0 {
					after = append(after, ok)
					continue
				}
				if !ok || r != "" && r != tc.reason {
					t.Fatalf("frame %d before the stop: take = %q, %v", i, r, ok)
				}
				if r != "" {
					stopAt = i
					g.stop(r)
				}
			}
			if stopAt != tc.reached || g.stopped() != tc.reason || !slices.Equal(after, tc.after) {
				t.Errorf("stopped at frame %d by %q, then took %v; want %d, %q, %v", stopAt, g.stopped(), after, tc.reached, tc.reason, tc.after)
			}
			if tc.reason == "" {
				return
			}
			select {
			case err := <-cause: // after the drain
				if r, ok := mergeReason(err); !ok || r != tc.reason {
					t.Errorf("cancel cause %v, want the group's stop %q", err, tc.reason)
				}
			case <-time.After(5 * time.Second):
				t.Error("the drain never ended the sessions' context")
			}
		})
	}
}

// TestMergeGroupTakeConcurrent has four sessions with interleaved
// timestamps race to the packet limit: each writes a prefix of its frames,
// and together they hold at least every frame up to the limit in time, so
// the merge can cut the file there.
func TestMergeGroupTakeConcurrent(t *testing.T) {
	const limit, sessions = 10000, 4
	g := newMergeGroup(&plan{packets: limit, bytes: 1 << 60}, 0, time.Unix(0, 0), time.Hour, func(error) {})
	defer g.end()
	var wg sync.WaitGroup
	written := make([]int, sessions)
	for i := range sessions {
		wg.Go(func() {
			for k := 0; ; k++ {
				r, ok := g.take(int64(k*sessions+i+1), 64)
				if !ok {
					return
				}
				written[i]++
				if r != "" {
					g.stop(r)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i, n := range written {
		total += n
		// Session i wrote timestamps i+1, i+1+4, ...: all up to the limit.
		if next := n*sessions + i + 1; next <= limit {
			t.Errorf("session %d wrote up to time %d, short of the limit's %d", i, next-sessions, limit)
		}
	}
	if total < limit || g.stopped() != StopPackets {
		t.Errorf("%d frames written (per session %v), stop %q; want at least %d, packets", total, written, g.stopped(), limit)
	}
}

func TestMergedNames(t *testing.T) {
	caps := func(names ...string) []capturePlan {
		out := make([]capturePlan, len(names))
		for i, n := range names {
			out[i].iface = n
		}
		return out
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = fmt.Sprintf("ethernet%02d", i)
	}
	for _, tc := range []struct {
		name                string
		p                   plan
		label, alias, fname string
	}{
		{"interfaces", plan{captures: caps("eth0", "eth1")}, "eth0+eth1", "", "h-eth0+eth1-100-id1.pcapng"},
		{"alias", plan{captures: caps("eth0", "eth1"), req: Request{Alias: []string{"public"}}}, "eth0+eth1", "public", "h-public-100-id1.pcapng"},
		{"alias not a plain name", plan{captures: caps("eth0", "eth1"), req: Request{Alias: []string{"a/b"}}}, "eth0+eth1", "a/b", "h-eth0+eth1-100-id1.pcapng"},
		{"two aliases", plan{captures: caps("eth0", "eth1"), req: Request{Alias: []string{"x", "y"}}}, "eth0+eth1", "", "h-eth0+eth1-100-id1.pcapng"},
		{"long", plan{captures: caps(many...)}, "ethernet00+ethernet01+ethernet02+ethernet03+ethernet04+15more", "",
			"h-ethernet00+ethernet01+ethernet02+ethernet03+ethernet04+15more-100-id1.pcapng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label, alias := mergedNames(&tc.p)
			fname := mergedFileName("h", label, alias, time.Unix(100, 0), "id1")
			if label != tc.label || alias != tc.alias || fname != tc.fname {
				t.Errorf("mergedNames = %q, %q, file %q; want %q, %q, %q", label, alias, fname, tc.label, tc.alias, tc.fname)
			}
			if len(label) > maxMergedLabel {
				t.Errorf("label is %d bytes, the limit is %d", len(label), maxMergedLabel)
			}
		})
	}
}

// seqHandle is ringHandle with timestamps that only grow, as one socket's.
type seqHandle struct{ ringHandle }

func (h *seqHandle) ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error) {
	p, err := h.ringHandle.ReadPacket(ctx, deadline)
	p.Timestamp = int64(h.i) * 1000
	return p, err
}

// runMergedLoop runs the capture loop of one session of a merged capture
// (limit n packets) into a fresh buffer.
func runMergedLoop(tb testing.TB, a *Agent, n int, h Handle) *capfile.Buffer {
	p := &plan{packets: int64(n), bytes: 1 << 62, timeout: time.Hour, duration: time.Hour, snaplen: 262144, format: FormatPcapNG}
	s := &session{
		a: a, log: a.log, p: p,
		cp: capturePlan{target: target{iface: "eth0"}, linkType: 1}, snaplen: 262144, linkType: 1,
	}
	s.group = newMergeGroup(p, 0, time.Unix(0, 0), time.Hour, func(error) {})
	defer s.group.end()
	buf := capfile.NewBuffer(a.pool)
	var count uint64
	reason, err := s.loop(context.Background(), h, capfile.NewEPBWriter(buf, 262144, 0), buf, time.Now(), &count)
	if err != nil || reason != StopPackets || count != uint64(n) {
		tb.Fatalf("loop: %v %q after %d packets", err, reason, count)
	}
	return buf
}

// TestMergedLoopAllocations: a merged session's loop does not allocate
// per packet either.
func TestMergedLoopAllocations(t *testing.T) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 20, FreeChunks: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	h := &seqHandle{ringHandle{pkts: testPackets(64)}}
	runMergedLoop(t, a, 20000, h).Release() // warm the chunk pool
	const n = 20000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	buf := runMergedLoop(t, a, n, h)
	runtime.ReadMemStats(&after)
	buf.Release()
	if allocs := after.Mallocs - before.Mallocs; allocs > 30 {
		t.Errorf("%d allocations for %d packets", allocs, n)
	}
}

// BenchmarkMergedCaptureLoop is BenchmarkCaptureLoop's pcapng case for a
// session of a merged capture: what the group's shared counters cost.
func BenchmarkMergedCaptureLoop(b *testing.B) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 20, FreeChunks: 256})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	h := &seqHandle{ringHandle{pkts: testPackets(256)}}
	const per = 50000
	b.ReportAllocs()
	for b.Loop() {
		runMergedLoop(b, a, per, h).Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/packet")
}

// TestMergedSessionDrainBounded: a session draining after another one
// stopped the group keeps the frames older than the stop, but never more
// than the limits let one interface put in the file, so its buffer stays
// within the memory admitted for it.
func TestMergedSessionDrainBounded(t *testing.T) {
	a, err := New(Config{Hostname: "h", ChunkSize: 1 << 16, FreeChunks: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	const header = 200
	pkts := testPackets(16)
	// The byte share: frames until the header and their EPBs reach 10000.
	byteShare, size := uint64(0), int64(header)
	for i := 0; size < 10_000; i++ {
		size += capfile.EPBLen(len(pkts[i%len(pkts)].Data))
		byteShare++
	}
	for _, tc := range []struct {
		name           string
		packets, bytes int64
		stopTs         int64 // the group stopped at this time
		want           uint64
		reason         StopReason
	}{
		// seqHandle's frames are at 1000, 2000, ...
		{"older frames kept", 1000, 1 << 40, 50_500, 50, StopTimeout},
		{"packet share", 100, 1 << 40, 1 << 40, 100, StopPackets},
		{"byte share", 1000, 10_000, 1 << 40, byteShare, StopBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &plan{packets: tc.packets, bytes: tc.bytes, timeout: time.Hour, duration: time.Hour, snaplen: 262144, format: FormatPcapNG}
			s := &session{a: a, log: a.log, p: p, cp: capturePlan{target: target{iface: "eth0"}, linkType: 1}, snaplen: 262144, linkType: 1}
			s.group = newMergeGroup(p, header, time.Unix(0, 0), time.Hour, func(error) {})
			defer s.group.end()
			s.group.seen(tc.stopTs)
			s.group.stop(StopTimeout) // by another interface
			buf := capfile.NewBuffer(a.pool)
			defer buf.Release()
			var count uint64
			reason, err := s.loop(context.Background(), &seqHandle{ringHandle{pkts: pkts}},
				capfile.NewEPBWriter(buf, 262144, 0), buf, time.Now(), &count)
			if err != nil {
				t.Fatal(err)
			}
			if count != tc.want || reason != tc.reason {
				t.Errorf("session wrote %d frames and stopped by %q, want %d, %q", count, reason, tc.want, tc.reason)
			}
		})
	}
}
