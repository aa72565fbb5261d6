//go:build linux

package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// cpuTime returns the CPU time this process has spent (user and system).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLookbackRingCPU measures what a look-back ring costs while
// 100,000 frames a second of background traffic go by: a 64 MiB ring
// (the default snap length, 500) on a veth pair, fed for 5 s by
// scripts/bench's generator, a process of its own in the pair's
// namespace (the kernel's copy into the ring runs in the sender's
// softirq, charged to it). The figure is this process's CPU time over
// the window (the ring's owner is all it runs) as a share of one core,
// beside the same window without traffic. The goal is 2 %.
func BenchmarkLookbackRingCPU(b *testing.B) {
	testenv.RequireRoot(b)
	gen := filepath.Join(b.TempDir(), "bench")
	build := exec.Command("go", "build", "-o", gen, "./scripts/bench")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building the generator: %v\n%s", err, out)
	}
	const rate, window = 100_000, 5 * time.Second
	for _, size := range []int{60, 1514} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			p := netns.NewVethPair(b)
			lb := NewLookback(LookbackOptions{Log: slog.New(slog.DiscardHandler)})
			defer lb.Close()
			if err := lb.Apply([]LookbackConfig{{Interface: p.Host, Bytes: 64 << 20}}); err != nil {
				b.Fatal(err)
			}
			// The window starts once the generator runs and ends before it
			// does: starting and reaping a process (fork copies this one's
			// page tables, the ring's included) is no cost of the ring.
			measure := func() (time.Duration, time.Duration) {
				cpu0, t0 := cpuTime(b), time.Now()
				time.Sleep(window)
				return cpuTime(b) - cpu0, time.Since(t0)
			}
			r := lb.ring(p.Host)
			w0, t0 := r.wakes.Load(), r.taken
			idleCPU, idleWall := measure()
			w1 := r.wakes.Load()
			cmd := exec.Command("ip", "netns", "exec", p.NS.Name, gen, "gen", "-if", p.Peer, "-size", fmt.Sprint(size),
				"-n", fmt.Sprint(int((window+2*time.Second).Seconds())*rate), "-rate", fmt.Sprint(rate), "-timeout", "20s",
				"-src", p.PeerAddr.String(), "-dst", p.HostAddr.String())
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Second) // the generator is up to speed
			b.ResetTimer()
			cpu, wall := measure()
			b.StopTimer()
			if err := cmd.Wait(); err != nil {
				b.Fatalf("generator: %v", err)
			}
			var rep struct {
				Sent int           `json:"sent"`
				Took time.Duration `json:"took_ns"`
			}
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(rep.Sent)/rep.Took.Seconds()/1000, "gen-kpps")
			b.Logf("wakes idle %d, busy %d; blocks %d", w1-w0, r.wakes.Load()-w1, r.taken-t0)
			st := lb.Status()[0]
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
			b.ReportMetric(100*idleCPU.Seconds()/idleWall.Seconds(), "%core-idle")
			b.ReportMetric(float64(st.Drops), "drops")
			b.ReportMetric(st.Seconds(), "s-held")
		})
	}
}
