package transport

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff yields capped exponential delays with jitter for reconnect loops.
// The zero value starts at 100ms and caps at 10s.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the delay before the next attempt: Min, then doubling up to
// Max, each with ±20% jitter so a fleet does not reconnect in step.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi <= 0 {
		hi = 10 * time.Second
	}
	switch {
	case b.cur == 0:
		b.cur = lo
	case b.cur < hi:
		b.cur = min(2*b.cur, hi)
	}
	j := time.Duration(rand.Int64N(int64(b.cur)/5+1)) * 2
	return b.cur - b.cur/5 + j
}

// Reset starts the sequence again (after a successful connection).
func (b *Backoff) Reset() { b.cur = 0 }

// StateLog logs a connection's state only when it changes, so a server down
// for an hour gives one line, not one per retry.
type StateLog struct {
	Log *slog.Logger

	mu    sync.Mutex
	state string
	since time.Time
}

// Set records state and logs it (at level, with msg and args) if it differs
// from the previous one; it reports whether it logged. The previous state's
// duration is added as "after".
func (s *StateLog) Set(state string, level slog.Level, msg string, args ...any) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == s.state {
		return false
	}
	now := time.Now()
	if !s.since.IsZero() {
		args = append(args, "after", now.Sub(s.since).Round(time.Millisecond))
	}
	s.state, s.since = state, now
	if s.Log != nil {
		s.Log.Log(context.Background(), level, msg, args...)
	}
	return true
}

// State returns the current state.
func (s *StateLog) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Sometimes lets through at most Burst events per Interval (log lines for
// rejected messages), counting the rest.
type Sometimes struct {
	Burst    int
	Interval time.Duration

	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

// Allow reports whether an event may be logged now and, when a new interval
// starts, how many were suppressed in the previous one.
func (s *Sometimes) Allow(now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	iv := s.Interval
	if iv <= 0 {
		iv = time.Second
	}
	if now.Sub(s.start) >= iv {
		suppressed, s.suppressed = s.suppressed, 0
		s.start, s.n = now, 0
	}
	if s.n < max(s.Burst, 1) {
		s.n++
		return true, suppressed
	}
	s.suppressed++
	return false, suppressed
}
