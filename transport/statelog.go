package transport

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

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
