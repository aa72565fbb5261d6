package retry

import (
	"context"
	"time"
)

// Backoff paces a loop that never gives up, such as a reconnect loop: Next
// counts one more failure in a row and returns the Policy's wait for it;
// Reset starts again after a success. The zero Backoff uses the zero
// Policy's defaults. Its Policy's Attempts is not used.
type Backoff struct {
	Policy Policy

	failures int
}

// Next counts a failure and returns the wait before the next try.
func (b *Backoff) Next() time.Duration {
	b.failures++
	return b.Policy.Delay(b.failures)
}

// Reset forgets the failures counted (after a success).
func (b *Backoff) Reset() { b.failures = 0 }

// Wait waits for d, or less if ctx ends first; then it returns ctx's error.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
