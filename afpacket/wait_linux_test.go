//go:build linux

package afpacket

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// TestWait: Conn.Wait returns after its time, early when the context ends
// or the Conn is closed, and says which.
func TestWait(t *testing.T) {
	c, _ := memRing(t, 4096, 2, MemConfig{})
	start := time.Now()
	if err := c.Wait(context.Background(), 20*time.Millisecond); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("Wait returned after %v, want at least 20ms", d)
	}
	// Again: the timer is re-armed, an expiry consumed.
	start = time.Now()
	if err := c.Wait(context.Background(), 10*time.Millisecond); err != nil || time.Since(start) < 10*time.Millisecond {
		t.Fatalf("second Wait = %v after %v", err, time.Since(start))
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start = time.Now()
	err := c.Wait(ctx, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled Wait returned after %v", d)
	}

	errc := make(chan error, 1)
	go func() { errc <- c.Wait(context.Background(), time.Hour) }()
	time.Sleep(20 * time.Millisecond) // let it park; Close must wake it either way
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Wait after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
	if err := c.Wait(context.Background(), time.Millisecond); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Wait on a closed Conn = %v", err)
	}
}
