package metrics_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/metrics"
)

// TestSpoolMetrics reads the spool's state at scrape time and counts the
// captures dropped to make room.
func TestSpoolMetrics(t *testing.T) {
	r := metrics.New("test", nil)
	st := metrics.SpoolState{Captures: 2, Bytes: 3000, MaxBytes: 1 << 30}
	r.WatchSpool(func() metrics.SpoolState { return st })
	r.SpoolDropped(1200)
	r.SpoolDropped(800)
	st.Captures = 3 // read at the scrape, not at WatchSpool
	for _, tt := range []struct {
		name string
		want float64
	}{
		{"pcapdaemon_spool_captures", 3},
		{"pcapdaemon_spool_bytes", 3000},
		{"pcapdaemon_spool_max_bytes", 1 << 30},
		{"pcapdaemon_spool_dropped_total", 2},
		{"pcapdaemon_spool_dropped_bytes_total", 2000},
	} {
		if got := mustValue(t, r, tt.name); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
}

type refusal struct{}

func (refusal) Error() string     { return "acl not allowed" }
func (refusal) Unretryable() bool { return true }

// switchSink fails with err while it is set.
type switchSink struct {
	name string
	err  *error
}

func (s switchSink) Name() string { return s.name }
func (s switchSink) Deliver(context.Context, *agent.Capture) (string, error) {
	return "/x", *s.err
}

// TestSinkFailing follows a sink's most recent delivery: failing after a
// failed one, fine after a successful one, unchanged by a refusal of the
// request's override, and shared by every instrumented copy of the sink
// (a reload builds new ones).
func TestSinkFailing(t *testing.T) {
	r := metrics.New("test", nil)
	var err error
	s := r.InstrumentSink(switchSink{name: "s3", err: &err})
	c := &agent.Capture{Data: data("x")}
	if got := r.SinkFailing("s3"); got != nil {
		t.Errorf("before any delivery: %v, want nil", got)
	}
	down := errors.New("connection refused")
	for i, step := range []struct {
		err  error
		want error
	}{
		{down, down},
		{refusal{}, down},
		{nil, nil},
		{refusal{}, nil},
		{down, down},
	} {
		err = step.err
		s.Deliver(context.Background(), c)
		if got := r.SinkFailing("s3"); !errors.Is(got, step.want) || (step.want == nil) != (got == nil) {
			t.Errorf("step %d (delivery error %v): SinkFailing = %v, want %v", i, step.err, got, step.want)
		}
	}
	err = nil
	r.InstrumentSink(switchSink{name: "s3", err: &err}).Deliver(context.Background(), c)
	if got := r.SinkFailing("s3"); got != nil {
		t.Errorf("after a delivery through the reloaded sink: %v, want nil", got)
	}
}
