package agent

import (
	"context"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// TestRingConfigMatchesSession checks that RingConfig names the ring
// geometry a capture session of a request with the configured limits opens
// with, so that a pool started with it holds spares the agent can use; and
// that a CaptureSpec's ring size is the ring's.
func TestRingConfigMatchesSession(t *testing.T) {
	for _, cfg := range []Config{{}, {MaxBytes: 300_000_000, MaxPackets: 1 << 40, Snaplen: 1514}, {RingBytes: 64 << 20}} {
		ta := newTestAgent(t, cfg)
		submit(t, ta, `{"node":"any","interface":["eth0"],"timeout":1}`)
		ta.result(t)
		want := RingConfig(cfg)
		ta.host.mu.Lock()
		got := ta.host.opens[len(ta.host.opens)-1]
		ta.host.mu.Unlock()
		if got.BlockSize != want.BlockSize || got.NumBlocks != want.NumBlocks || got.BlockTimeout != want.BlockTimeout {
			t.Errorf("config %+v: session opens %d×%d (%v), RingConfig says %d×%d (%v)", cfg,
				got.NumBlocks, got.BlockSize, got.BlockTimeout, want.NumBlocks, want.BlockSize, want.BlockTimeout)
		}
	}
	frames := []scripted{{at: time.Second, data: testFrame(60, 1)}}
	for _, ring := range []int64{1 << 20, 5 << 20, 64 << 20} {
		var opened []afpacket.Config
		spec := CaptureSpec{Interface: "eth0", Packets: 1, RingBytes: ring}
		if _, _, err := CaptureOnce(context.Background(), spec, onceOptions(newFakeClock(), frames, &opened)...); err != nil {
			t.Fatal(err)
		}
		if len(opened) != 1 {
			t.Fatalf("ring %d: opened %d handles", ring, len(opened))
		}
		if got := opened[0]; int64(got.BlockSize)*int64(got.NumBlocks) != ring {
			t.Errorf("ring %d: session opens %d×%d", ring, got.NumBlocks, got.BlockSize)
		}
	}
}
