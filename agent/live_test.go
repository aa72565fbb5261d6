package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// chanHandle is a Handle on the real clock: frames arrive when the test
// sends them, a read waits for one until its deadline, as a ring does.
type chanHandle struct {
	frames chan []byte
	stats  atomic.Int64 // calls of Stats
}

func (h *chanHandle) ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case b := <-h.frames:
		return afpacket.Packet{Timestamp: time.Now().UnixNano(), Data: b, CaptureLength: len(b), Length: len(b)}, nil
	case <-t.C:
		return afpacket.Packet{}, os.ErrDeadlineExceeded
	case <-ctx.Done():
		return afpacket.Packet{}, fmt.Errorf("chan read: %w", ctx.Err())
	}
}

func (h *chanHandle) Stats() (afpacket.Stats, error) {
	n := h.stats.Add(1)
	return afpacket.Stats{Packets: uint64(n), Drops: uint64(n)}, nil
}
func (h *chanHandle) LinkType() uint32 { return 1 }
func (h *chanHandle) Snaplen() int     { return 262144 }
func (h *chanHandle) Close() error     { return nil }

// newLiveAgent is an agent on the real clock whose captures read from the
// returned handles (one per interface, made on open).
func newLiveAgent(t *testing.T) (*Agent, map[string]*chanHandle) {
	t.Helper()
	hs := map[string]*chanHandle{"eth0": {frames: make(chan []byte)}, "eth1": {frames: make(chan []byte)}}
	a, err := New(Config{Hostname: "cap1"},
		WithOpener(func(ifname string, _ afpacket.Config) (Handle, error) { return hs[ifname], nil }),
		WithInterfaceLookup(fakeInterfaces("eth0", "eth1")), WithCompiler(fakeCompile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return a, hs
}

// liveOf returns the live counters of request id on iface (ok false when
// there are none).
func liveOf(a *Agent, id, iface string) (Live, bool) {
	st, _ := a.Lookup(id)
	for _, l := range st.Live {
		if l.Interface == iface {
			return l, true
		}
	}
	return Live{}, false
}

// TestLiveCounters: a running capture shows its counters under "live",
// per interface, within a second of its frames, whether the frames trickle
// in (a wake without frames publishes them) or come in bursts of more than
// 64; the kernel's drops are read at most once a second however often it
// is looked up; the results replace the live counters at the end.
func TestLiveCounters(t *testing.T) {
	a, hs := newLiveAgent(t)
	id, err := a.Submit(context.Background(), []byte(`{"id":"live1","node":"any","interface":["eth0","eth1"],"timeout":60,"duration":60}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !testenv.WaitFor(5*time.Second, func() bool {
		_, ok0 := liveOf(a, id, "eth0")
		_, ok1 := liveOf(a, id, "eth1")
		return ok0 && ok1
	}) {
		st, _ := a.Lookup(id)
		t.Fatalf("no live counters for both interfaces: %+v", st)
	}
	st, _ := a.Lookup(id)
	b, _ := json.Marshal(st)
	if !strings.Contains(string(b), `"results":[]`) || !strings.Contains(string(b), `"live":[{"interface":`) {
		t.Errorf("running request's JSON %s\nwant \"results\":[] and \"live\" per interface", b)
	}

	frame := testFrame(100, 1000)
	for _, tc := range []struct {
		name   string
		send   int
		total  uint64
		within time.Duration
	}{
		{"a trickle", 5, 5, time.Second},
		{"one more", 1, 6, time.Second},
		// The 64th frame publishes at once, before any wake.
		{"up to 64", 58, 64, liveEvery / 2},
		{"a burst past 64", 72, 136, time.Second},
	} {
		for range tc.send {
			hs["eth0"].frames <- frame
		}
		sent := time.Now()
		ok := testenv.WaitFor(2*time.Second, func() bool {
			l, _ := liveOf(a, id, "eth0")
			return l.Packets == tc.total
		})
		took := time.Since(sent)
		l, _ := liveOf(a, id, "eth0")
		t.Logf("%s: live packets %d after %v", tc.name, l.Packets, took.Round(time.Millisecond))
		if !ok || took > tc.within {
			t.Errorf("%s: live packets %d after %v, want %d within %v", tc.name, l.Packets, took, tc.total, tc.within)
		}
		if l.Bytes <= uint64(tc.total)*100 || l.Since.IsZero() || l.Updated.Before(l.Since) {
			t.Errorf("%s: live %+v: want bytes beyond %d (the file, headers included), since and updated set", tc.name, l, tc.total*100)
		}
	}
	if l, _ := liveOf(a, id, "eth1"); l.Packets != 0 {
		t.Errorf("eth1 live %+v, want no packets", l)
	}

	// Looked up again and again: the kernel's counters are read at most
	// once per statsEvery.
	before := hs["eth0"].stats.Load()
	start := time.Now()
	for range 200 {
		a.Lookup(id)
	}
	reads := hs["eth0"].stats.Load() - before
	if limit := int64(time.Since(start)/statsEvery) + 1; reads > limit {
		t.Errorf("200 lookups in %v read the kernel's counters %d times, want at most %d", time.Since(start), reads, limit)
	}
	if l, _ := liveOf(a, id, "eth0"); l.KernelDrops == 0 {
		t.Errorf("live %+v: kernel_drops not read from the handle", l)
	}

	if err := a.Cancel(id); err != nil {
		t.Fatal(err)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { st, _ := a.Lookup(id); return st.Phase == PhaseDone }) {
		t.Fatal("not done after the cancel")
	}
	st, _ = a.Lookup(id)
	if len(st.Live) != 0 || len(st.Results) != 2 {
		t.Errorf("done: live %+v, %d results; want no live counters and 2 results", st.Live, len(st.Results))
	}
	for _, r := range st.Results {
		if r.Interface == "eth0" && r.Packets != 136 {
			t.Errorf("eth0 result %+v, want 136 packets", r)
		}
	}
}
