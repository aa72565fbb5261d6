package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBackoff: Next walks the policy's waits one failure at a time (the
// transports' reconnect pacing: ±20% of the doubling sequence before the
// cap at most, never above it), and Reset starts over.
func TestBackoff(t *testing.T) {
	b := Backoff{Policy: Policy{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: 0.2}}
	wantBase := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range wantBase {
		w *= time.Millisecond
		if d := b.Next(); d < w-w/5 || d > w {
			t.Errorf("failure %d: wait %v, want %v less up to 20%%", i+1, d, w)
		}
	}
	b.Reset()
	if d := b.Next(); d < 80*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("after Reset: %v, want about 100ms", d)
	}
}

func TestWait(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		d       time.Duration
		wantErr error
	}{
		{"elapsed", context.Background(), time.Millisecond, nil},
		{"zero", context.Background(), 0, nil},
		{"cancelled during an hour", cancelled, time.Hour, context.Canceled},
		{"cancelled, zero wait", cancelled, 0, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			if err := Wait(tt.ctx, tt.d); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Wait = %v, want %v", err, tt.wantErr)
			}
			if el := time.Since(start); el < min(tt.d, time.Millisecond) && tt.wantErr == nil || el > 10*time.Second {
				t.Errorf("Wait took %v for %v", el, tt.d)
			}
		})
	}
}
