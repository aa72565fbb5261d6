package agent

import (
	"context"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// TestRingConfigMatchesSession checks that RingConfig names the ring
// geometry a capture session opens with, so that a pool started with it
// holds spares the agent can use.
func TestRingConfigMatchesSession(t *testing.T) {
	frames := []scripted{{at: time.Second, data: testFrame(60, 1)}}
	for _, ring := range []int64{0, 1 << 20, 5 << 20, 64 << 20} {
		var opened []afpacket.Config
		spec := CaptureSpec{Interface: "eth0", Packets: 1, RingBytes: ring}
		if _, _, err := CaptureOnce(context.Background(), spec, onceOptions(newFakeClock(), frames, &opened)...); err != nil {
			t.Fatal(err)
		}
		if len(opened) != 1 {
			t.Fatalf("ring %d: opened %d handles", ring, len(opened))
		}
		want := RingConfig(Config{RingBytes: ring})
		got := opened[0]
		if got.BlockSize != want.BlockSize || got.NumBlocks != want.NumBlocks || got.BlockTimeout != want.BlockTimeout {
			t.Errorf("ring %d: session opens %d×%d (%v), RingConfig says %d×%d (%v)", ring,
				got.NumBlocks, got.BlockSize, got.BlockTimeout, want.NumBlocks, want.BlockSize, want.BlockTimeout)
		}
	}
}
