//go:build linux

package afpacket_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/sys/unix"
)

// benchSizes are the frame sizes the benchmarks use (without FCS).
var benchSizes = []int{60, 1514}

// BenchmarkReadPacket times ReadPacket over a real ring: each round fills
// the ring with a bounded burst (timer stopped), waits for the kernel to
// hand the blocks over, then reads the burst back (timer running). ns/op is
// ns per packet.
func BenchmarkReadPacket(b *testing.B) {
	testenv.RequireRoot(b)
	pair := netns.NewVethPair(b)
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			cfg := afpacket.Config{Filter: etherTypeFilter(b, testEtherType, 262144)}
			c := open(b, pair.Host, cfg)
			per := (82 + size + 15) &^ 15
			burst := afpacket.DefaultBlockSize / per * (afpacket.DefaultNumBlocks - 1)
			f := frame(pair.HostMAC, pair.PeerMAC, nil, 1, size)
			frames := make([][]byte, burst)
			for i := range frames {
				frames[i] = f
			}
			ctx := context.Background()
			var sent uint64
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(burst, b.N-done)
				b.StopTimer()
				if err := pair.Send(frames[:k]); err != nil {
					b.Fatal(err)
				}
				sent += uint64(k)
				waitPackets(b, c, sent)
				b.StartTimer()
				for range k {
					if _, err := c.ReadPacket(ctx, time.Time{}); err != nil {
						b.Fatal(err)
					}
				}
				done += k
			}
			b.StopTimer()
			st, _ := c.Stats()
			b.ReportMetric(float64(st.Drops), "drops")
		})
	}
}

// waitPackets waits until the kernel counted n frames for c and the block
// timeout has handed the last block over.
func waitPackets(b *testing.B, c *afpacket.Conn, n uint64) {
	end := time.Now().Add(5 * time.Second)
	for {
		st, err := c.Stats()
		if err != nil {
			b.Fatal(err)
		}
		if st.Packets >= n {
			break
		}
		if time.Now().After(end) {
			b.Fatalf("kernel counted %d frames, want %d", st.Packets, n)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(3 * afpacket.DefaultBlockTimeout)
}

// BenchmarkCaptureRatio floods the link with b.N frames as fast as one
// sender goes while a reader captures them, and reports the share captured,
// the kernel's drops, the sender's rate and the reader thread's CPU time per
// million packets (the kernel's copy into the ring is charged to the
// sender). Run it with a fixed count, e.g. -benchtime=1000000x.
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
					cpu      time.Duration
				)
				b.ResetTimer()
				start := time.Now()
				wg.Go(func() {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					t0 := threadCPU()
					for captured < want {
						_, err := c.ReadPacket(context.Background(), time.Now().Add(200*time.Millisecond))
						if errors.Is(err, os.ErrDeadlineExceeded) {
							break
						}
						if err != nil {
							b.Error(err)
							break
						}
						captured++
					}
					cpu = threadCPU() - t0
				})
				for sent := 0; sent < b.N; {
					k := min(len(batch), b.N-sent)
					if err := pair.Send(batch[:k]); err != nil {
						b.Fatal(err)
					}
					sent += k
				}
				sendTime := time.Since(start)
				wg.Wait()
				b.StopTimer()
				st, _ := c.Stats()
				b.ReportMetric(100*float64(captured)/float64(want), "%captured")
				b.ReportMetric(float64(st.Drops), "drops")
				b.ReportMetric(float64(b.N)/sendTime.Seconds()/1e6, "Mpps-sent")
				b.ReportMetric(cpu.Seconds()*1e6/float64(max(captured, 1)), "reader-CPU-s/Mpkt")
			})
		}
	}
}

// threadCPU returns the calling thread's user and system CPU time.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
