//go:build linux

package agent_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"golang.org/x/net/bpf"
)

// armFilter is the filter the arm-latency benchmarks attach.
const armFilter = "udp dst port 9999"

// reportLatency reports the p50 and p99 of d in microseconds.
func reportLatency(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		return float64(d[min(len(d)-1, int(q*float64(len(d))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(float64(d[len(d)-1].Nanoseconds())/1e3, "max-µs")
}

// BenchmarkArmLatency measures the time from a capture's start to its
// socket being armed with its filter (issue 5), over b.N opens; run it with
// -benchtime=200x. Three levels:
//
//   - lookup: agent.LookupInterface, as a request makes it;
//   - open: afpacket.Open with a compiled filter (socket, filter, ring,
//     mmap, promiscuous membership, bind);
//   - CaptureOnce: interface lookup, filter compilation and the open, up to
//     the Armed callback;
//   - Submit: a JSON request through Agent.Submit (decode, validate,
//     compile, admit, the capture goroutine) until the socket is open;
//     the same request every time (an alert rule's), so that from the
//     second on its program comes from the agent's cache and is attached
//     to the pool's spare already;
//   - Submit-pooled-new-filter: Submit-pooled with another filter every
//     time, compiled and attached in the request.
func BenchmarkArmLatency(b *testing.B) {
	testenv.RequireRoot(b)
	p := netns.NewVethPair(b)
	info, err := agent.LookupInterface(p.Host)
	if err != nil {
		b.Fatal(err)
	}
	prog, err := bpfcompile.Compile(armFilter, bpfcompile.Options{
		LinkType: bpfcompile.LinkType(info.LinkType), Snaplen: 262144, Live: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		b.Fatal(err)
	}
	ring := afpacket.Config{
		Promiscuous: true, Filter: raw, Snaplen: 262144,
		BlockSize: 1 << 20, NumBlocks: int(agent.DefaultRingBytes >> 20),
	}

	// lookup is the interface lookup every request makes before its
	// filter is compiled (part of Submit's latency).
	b.Run("lookup", func(b *testing.B) {
		b.ReportAllocs()
		var d []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if _, err := agent.LookupInterface(p.Host); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(t0))
		}
		reportLatency(b, d)
	})

	b.Run("open", func(b *testing.B) {
		var d []time.Duration
		for b.Loop() {
			t0 := time.Now()
			c, err := afpacket.Open(p.Host, ring)
			d = append(d, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		reportLatency(b, d)
	})

	pool, err := afpacket.NewPool(context.Background(), 1, ring)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	// waitSpare lets the pool refill between opens, as it does between
	// requests in a daemon; the wait is not timed.
	waitSpare := func(b *testing.B) {
		b.StopTimer()
		defer b.StartTimer()
		for end := time.Now().Add(5 * time.Second); !pool.Ready(ring); time.Sleep(100 * time.Microsecond) {
			if time.Now().After(end) {
				b.Fatal("pool made no spare in 5s")
			}
		}
	}

	b.Run("open-pooled", func(b *testing.B) {
		var d []time.Duration
		for b.Loop() {
			waitSpare(b)
			t0 := time.Now()
			c, err := pool.Open(p.Host, ring)
			d = append(d, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		reportLatency(b, d)
	})

	b.Run("CaptureOnce", func(b *testing.B) {
		var d []time.Duration
		for b.Loop() {
			ctx, cancel := context.WithCancel(context.Background())
			t0 := time.Now()
			// The ring of the other levels: a capture without limits would
			// get a ring of 1 GiB, whose allocation is its set-up.
			_, _, err := agent.CaptureOnce(ctx, agent.CaptureSpec{
				Interface: p.Host, Filter: armFilter, Promiscuous: true, RingBytes: agent.DefaultRingBytes,
				Armed: func(agent.CaptureInfo) { d = append(d, time.Since(t0)); cancel() },
			})
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
		reportLatency(b, d)
	})

	// The agent's pool holds rings of the size of a request with the
	// configured limits (agent.RingConfig), as the daemon's does.
	cfg := agent.Config{Hostname: "bench", Promiscuous: true}
	reqRing := agent.RingConfig(cfg)
	reqPool, err := afpacket.NewPool(context.Background(), 1, reqRing)
	if err != nil {
		b.Fatal(err)
	}
	defer reqPool.Close()
	waitReqSpare := func(b *testing.B) {
		b.StopTimer()
		defer b.StartTimer()
		for end := time.Now().Add(5 * time.Second); !reqPool.Ready(reqRing); time.Sleep(100 * time.Microsecond) {
			if time.Now().After(end) {
				b.Fatal("pool made no spare in 5s")
			}
		}
	}
	for _, sub := range []struct {
		name   string
		pooled bool
		vary   bool
	}{{"Submit", false, false}, {"Submit-pooled", true, false}, {"Submit-pooled-new-filter", true, true}} {
		b.Run(sub.name, func(b *testing.B) { benchSubmit(b, cfg, p.Host, reqPool, sub.pooled, sub.vary, waitReqSpare) })
	}
}

// benchSubmit is BenchmarkArmLatency's Submit level, opening through pool
// when pooled, with another filter for every request when vary.
func benchSubmit(b *testing.B, cfg agent.Config, host string, pool *afpacket.Pool, pooled, vary bool, waitSpare func(*testing.B)) {
	{
		open := agent.OpenAFPacket
		if pooled {
			open = agent.PoolOpener(pool)
		}
		armed := make(chan time.Time, 1)
		a, err := agent.New(cfg,
			agent.WithOpener(func(name string, cfg afpacket.Config) (agent.Handle, error) {
				h, err := open(name, cfg)
				armed <- time.Now()
				return h, err
			}))
		if err != nil {
			b.Fatal(err)
		}
		defer a.Shutdown(context.Background())
		var d []time.Duration
		i := 0
		for b.Loop() {
			if pooled {
				waitSpare(b)
			}
			i++
			filter := armFilter
			if vary {
				filter = fmt.Sprintf("udp dst port %d", 10000+i)
			}
			msg := fmt.Sprintf(`{"id":"arm-%d","node":"any","interface":[%q],"bpf":%q,"timeout":60}`, i, host, filter)
			t0 := time.Now()
			id, err := a.Submit(context.Background(), []byte(msg), "bench")
			if err != nil {
				b.Fatal(err)
			}
			d = append(d, (<-armed).Sub(t0))
			if err := a.Cancel(id); err != nil {
				b.Fatal(err)
			}
			for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Microsecond) {
				if st, _ := a.Lookup(id); st.Phase == agent.PhaseDone {
					break
				}
				if time.Now().After(end) {
					b.Fatal("capture did not end after Cancel")
				}
			}
		}
		reportLatency(b, d)
	}
}
