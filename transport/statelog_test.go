package transport

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestStateLogOncePerChange(t *testing.T) {
	var buf bytes.Buffer
	s := StateLog{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	for range 5 {
		s.Set("down", slog.LevelWarn, "redis unreachable")
	}
	s.Set("up", slog.LevelInfo, "redis subscribed")
	s.Set("up", slog.LevelInfo, "redis subscribed")
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("%d lines for two state changes:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "after=") || s.State() != "up" {
		t.Errorf("second line lacks the time in the previous state, or state %q:\n%s", s.State(), buf.String())
	}
}

func TestSometimes(t *testing.T) {
	s := Sometimes{Burst: 2, Interval: time.Second}
	t0 := time.Unix(100, 0)
	var allowed int
	for range 10 {
		if ok, _ := s.Allow(t0); ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("allowed %d in one interval, want 2", allowed)
	}
	ok, suppressed := s.Allow(t0.Add(time.Second))
	if !ok || suppressed != 8 {
		t.Errorf("next interval: ok %v, suppressed %d; want true, 8", ok, suppressed)
	}
}
