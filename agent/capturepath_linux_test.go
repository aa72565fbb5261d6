//go:build linux

package agent_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/sys/unix"
)

// BenchmarkCapturePath runs the whole capture path of CaptureOnce on a real
// ring (afpacket's ring walk, the session loop, the pcap writer into fresh
// buffer memory) while a sender in the same process floods the veth pair
// with b.N frames. It reports the share captured, the kernel's drops and
// the capturing thread's CPU time per packet; with -cpuprofile it shows
// where the capture side spends it. Run it with a fixed count, e.g.
// -benchtime=1000000x.
func BenchmarkCapturePath(b *testing.B) {
	testenv.RequireRoot(b)
	p := netns.NewVethPair(b)
	for _, size := range []int{60, 1514} { // frame sizes without the FCS
		payload := size - (14 + 20 + 8)
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			batch := make([][]byte, 1024)
			for i := range batch {
				batch[i] = udpFrame(p, uint16(1000+i), payload)
			}
			armed := make(chan struct{})
			var (
				wg  sync.WaitGroup
				sum agent.CaptureSummary
				err error
				cpu time.Duration
			)
			b.ReportAllocs()
			b.ResetTimer()
			wg.Go(func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				t0 := threadCPU()
				sum, _, err = agent.CaptureOnce(context.Background(), agent.CaptureSpec{
					Interface: p.Host, Filter: "udp", Packets: int64(b.N), Timeout: time.Second,
					Armed: func(agent.CaptureInfo) { close(armed) },
				})
				cpu = threadCPU() - t0
			})
			<-armed
			for sent := 0; sent < b.N; {
				k := min(len(batch), b.N-sent)
				if err := p.Send(batch[:k]); err != nil {
					b.Fatal(err)
				}
				sent += k
			}
			wg.Wait()
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(100*float64(sum.Packets)/float64(b.N), "%captured")
			b.ReportMetric(float64(sum.KernelDrops), "drops")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(sum.Packets, 1)), "capture-CPU-ns/packet")
		})
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
