package retry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Policy says how often and how patiently an operation is retried. The zero
// Policy is usable: it means DefaultPolicy.
type Policy struct {
	// Attempts is the total number of tries, the first included (>= 1).
	Attempts int
	// BaseDelay is the upper bound of the first backoff; each further
	// backoff bound doubles, up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps every backoff.
	MaxDelay time.Duration

	// Sleep waits for d or until ctx is done; nil means a timer. Tests
	// inject one to run without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1); nil means math/rand/v2.Float64.
	Jitter func() float64
}

// DefaultPolicy is used for a zero Policy: 4 attempts, backoffs bounded by
// 200ms, 400ms, 800ms (full jitter), never above 5s.
var DefaultPolicy = Policy{Attempts: 4, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}

// withDefaults fills the zero fields of p from DefaultPolicy.
func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultPolicy.Attempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultPolicy.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultPolicy.MaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		p.MaxDelay = p.BaseDelay
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	if p.Jitter == nil {
		p.Jitter = rand.Float64
	}
	return p
}

// Backoff returns the delay before try number attempt+1 (attempt counts
// from 1): a uniformly random duration in [0, min(MaxDelay, BaseDelay*2^(attempt-1))]
// ("full jitter", which spreads a fleet's retries instead of synchronising them).
func (p Policy) Backoff(attempt int) time.Duration {
	p = p.withDefaults()
	bound := p.BaseDelay
	for i := 1; i < attempt && bound < p.MaxDelay; i++ {
		bound *= 2
	}
	bound = min(bound, p.MaxDelay)
	return time.Duration(p.Jitter() * float64(bound+1))
}

// Error is returned by Do when every attempt failed or a permanent failure
// ended the tries. It wraps the last failure.
type Error struct {
	Op        string // what was attempted, e.g. "s3 PutObject bucket/key"
	Attempts  int    // tries made
	Permanent bool   // the last failure was classified permanent
	Err       error  // the last failure
}

func (e *Error) Error() string {
	if e.Permanent {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: giving up after %d attempts: %v", e.Op, e.Attempts, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Do calls fn until it succeeds, fails permanently, ctx ends or the policy's
// attempts are used up, sleeping Backoff between tries. fn receives the
// attempt number (from 1). classify tells whether an error is worth another
// try; nil means "transient unless wrapped with Permanent". Every retried
// failure is logged at Warn level with op; log may be nil.
//
// The returned error is nil or an *Error; a cancelled ctx ends the tries with
// ctx's error wrapped in it.
func Do(ctx context.Context, p Policy, log *slog.Logger, op string, classify func(error) bool, fn func(ctx context.Context, attempt int) error) error {
	p = p.withDefaults()
	if classify == nil {
		classify = func(error) bool { return true }
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(ctx, attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return &Error{Op: op, Attempts: attempt, Permanent: true, Err: err}
		}
		if IsPermanent(err) || !classify(err) {
			return &Error{Op: op, Attempts: attempt, Permanent: true, Err: err}
		}
		if attempt >= p.Attempts {
			return &Error{Op: op, Attempts: attempt, Err: err}
		}
		d := p.Backoff(attempt)
		if log != nil {
			log.Warn("transient failure, retrying", "op", op, "attempt", attempt, "of", p.Attempts, "backoff", d, "err", err)
		}
		if serr := p.Sleep(ctx, d); serr != nil {
			return &Error{Op: op, Attempts: attempt, Permanent: true, Err: errors.Join(err, serr)}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
