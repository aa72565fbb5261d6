//go:build linux

package afpacket_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// benchSizes are the frame sizes the benchmarks use (without FCS).
var benchSizes = []int{60, 1514}

// BenchmarkReadPacket times ReadPacket (and Next) over a real ring: each round sends
// a burst that fills benchBurstBlocks blocks exactly (timer stopped), waits
// for the kernel to count it, then reads it back (timer running). ns/op is
// ns per packet. Blocks close only when full (the retire timeout is far
// longer than a round), and the burst runs one frame ahead of the reads:
// that frame closes the burst's last block and opens the next round's.
func BenchmarkReadPacket(b *testing.B) {
	testenv.RequireRoot(b)
	pair := netns.NewVethPair(b)
	for _, tc := range []struct {
		method string
		size   int
	}{{"ReadPacket", 60}, {"ReadPacket", 1514}, {"Next", 60}, {"Next", 1514}} {
		size := tc.size
		b.Run(fmt.Sprintf("%s/%dB", tc.method, size), func(b *testing.B) {
			const blockSize = 1 << 20
			cfg := afpacket.Config{
				Filter:       etherTypeFilter(b, testEtherType, 262144),
				BlockSize:    blockSize,
				NumBlocks:    2*benchBurstBlocks + 2,
				BlockTimeout: time.Hour, // a benchmark can run past a minute
			}
			c := open(b, pair.Host, cfg)
			// A frame takes tp_mac (82 for Ethernet) plus its length,
			// 8-byte aligned (V3_ALIGNMENT), after the 48-byte block
			// header; the kernel wants strictly less than the block.
			per := (82 + size + 7) &^ 7
			burst := (blockSize - 48 - 1) / per * benchBurstBlocks
			f := frame(pair.HostMAC, pair.PeerMAC, nil, 1, size)
			frames := make([][]byte, burst+1)
			for i := range frames {
				frames[i] = f
			}
			ctx := context.Background()
			var sent uint64
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				b.StopTimer()
				k := burst
				if sent == 0 {
					k++ // the frame ahead
				}
				if err := pair.Send(frames[:k]); err != nil {
					b.Fatal(err)
				}
				sent += uint64(k)
				waitPackets(b, c, sent)
				deadline := time.Now().Add(5 * time.Second) // a lost frame fails the run instead of hanging it
				n := min(burst, b.N-done)
				b.StartTimer()
				for i := range n {
					var err error
					if tc.method == "Next" {
						_, err = c.Next(ctx, deadline)
					} else {
						_, err = c.ReadPacket(ctx, deadline)
					}
					if err != nil {
						st, _ := c.Stats()
						b.Fatalf("frame %d of %d: %v (%+v)", i, n, err, st)
					}
				}
				done += n
			}
			b.StopTimer()
			st, _ := c.Stats()
			b.ReportMetric(float64(st.Drops), "drops")
		})
	}
}

// benchBurstBlocks is how many full blocks one burst of
// BenchmarkReadPacket makes.
const benchBurstBlocks = 8

// waitPackets waits until the kernel counted n frames for c.
func waitPackets(b *testing.B, c *afpacket.Conn, n uint64) {
	end := time.Now().Add(10 * time.Second)
	for {
		st, err := c.Stats()
		if err != nil {
			b.Fatal(err)
		}
		if st.Packets >= n {
			return
		}
		if time.Now().After(end) {
			b.Fatalf("kernel counted %d frames, want %d", st.Packets, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkCaptureRatio floods the link with b.N frames as fast as one
// sender goes while a reader captures them, and reports the share captured,
// the kernel's drops, the sender's rate, and CPU time per million packets
// captured: the reader thread's own, and the whole process's less the
// sender thread's. The kernel's copy into the ring happens in the sender's
// context and is in neither; the process figure includes the Go scheduler's
// work around the sender's system calls, which a daemon does not have. Run
// it with a fixed count, e.g. -benchtime=1000000x.
func BenchmarkCaptureRatio(b *testing.B) {
	testenv.RequireRoot(b)
	pair := netns.NewVethPair(b)
	for _, size := range benchSizes {
		for _, half := range []bool{false, true} {
			name := fmt.Sprintf("%dB", size)
			if half {
				name += "/half-filtered"
			}
			b.Run(name, func(b *testing.B) {
				c := open(b, pair.Host, afpacket.Config{Filter: etherTypeFilter(b, testEtherType, 262144)})
				batch := make([][]byte, 1024)
				want := b.N
				for i := range batch {
					batch[i] = frame(pair.HostMAC, pair.PeerMAC, nil, uint32(i), size)
					if half && i%2 == 1 {
						batch[i][13]++ // another EtherType: the filter drops it
					}
				}
				if half {
					want = b.N / 2
				}
				var (
					wg       sync.WaitGroup
					captured int
					sendCPU  time.Duration
					sendTime time.Duration
					sendDone atomic.Bool
				)
				b.ResetTimer()
				cpu0 := processCPU()
				wg.Go(func() {
					// The sender on its own thread, so that its CPU time
					// (with the kernel's delivery into the ring, done in
					// its context) can be told from the capture side's.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					t0, start := threadCPU(), time.Now()
					for sent := 0; sent < b.N; {
						k := min(len(batch), b.N-sent)
						if err := pair.Send(batch[:k]); err != nil {
							b.Error(err)
							return
						}
						sent += k
					}
					sendCPU, sendTime = threadCPU()-t0, time.Since(start)
					sendDone.Store(true)
				})
				var readCPU time.Duration
				wg.Go(func() {
					// The reader on its own thread too, for its CPU time.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					t0 := threadCPU()
					defer func() { readCPU = threadCPU() - t0 }()
					ctx := context.Background()
					var deadline time.Time
					for captured < want {
						if captured%1024 == 0 {
							deadline = time.Now().Add(200 * time.Millisecond)
						}
						_, err := c.ReadPacket(ctx, deadline)
						if errors.Is(err, os.ErrDeadlineExceeded) {
							if sendDone.Load() {
								return // the rest was dropped or filtered
							}
							deadline = time.Now().Add(200 * time.Millisecond)
							continue // the sender stalled (a busy machine)
						}
						if err != nil {
							b.Error(err)
							return
						}
						captured++
					}
				})
				wg.Wait()
				cpu := processCPU() - cpu0 - sendCPU
				b.StopTimer()
				st, _ := c.Stats()
				b.ReportMetric(100*float64(captured)/float64(want), "%captured")
				b.ReportMetric(float64(st.Drops), "drops")
				b.ReportMetric(float64(b.N)/sendTime.Seconds()/1e6, "Mpps-sent")
				b.ReportMetric(readCPU.Seconds()*1e6/float64(max(captured, 1)), "reader-CPU-s/Mpkt")
				b.ReportMetric(cpu.Seconds()*1e6/float64(max(captured, 1)), "process-CPU-s/Mpkt")
			})
		}
	}
}

// processCPU returns the time the process's threads spent on a CPU, from
// the scheduler's nanosecond accounting (/proc/self/task/*/schedstat): the
// tick-sampled getrusage figures are too coarse for a reader that runs in
// short bursts.
func processCPU() time.Duration {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, e := range ents {
		sum += schedstat("/proc/self/task/" + e.Name() + "/schedstat")
	}
	return sum
}

// threadCPU returns the time the calling thread spent on a CPU.
func threadCPU() time.Duration { return schedstat("/proc/thread-self/schedstat") }

// schedstat returns the first field of a schedstat file: time on CPU in ns.
func schedstat(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	ns, _ := strconv.ParseInt(f, 10, 64)
	return time.Duration(ns)
}

// BenchmarkOpenRing measures the set-up of a 1 GiB ring up to the armed
// socket (Open): the kernel allocates and zeroes the ring in
// PACKET_RX_RING; the mapping into the process waits for the first read.
// Run it with -benchtime=3x: the first open of a VM whose free memory the
// hypervisor took back (free page reporting) pays for backing the pages.
func BenchmarkOpenRing(b *testing.B) {
	testenv.RequireRoot(b)
	pair := netns.NewVethPair(b)
	cfg := afpacket.Config{BlockSize: 1 << 20, NumBlocks: 1024, BlockTimeout: 50 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		c, err := afpacket.Open(pair.Host, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Free(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
