package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// InstrumentSink returns s measured: the duration of every Deliver call by
// outcome, the failures, the bytes delivered and the deliveries under way,
// all labelled with s.Name(). The returned Sink has the same name, so a
// spool that finds its sinks by name still finds it.
func (r *Registry) InstrumentSink(s agent.Sink) agent.Sink {
	name := s.Name()
	// Present at 0 before the first upload.
	r.failures.WithLabelValues(name)
	r.upBytes.WithLabelValues(name)
	r.inflight.WithLabelValues(name)
	return &measuredSink{r: r, s: s, name: name}
}

type measuredSink struct {
	r    *Registry
	s    agent.Sink
	name string
}

func (m *measuredSink) Name() string { return m.name }

func (m *measuredSink) Deliver(ctx context.Context, c *agent.Capture) (string, error) {
	inflight := m.r.inflight.WithLabelValues(m.name)
	inflight.Inc()
	defer inflight.Dec()
	start := time.Now()
	loc, err := m.s.Deliver(ctx, c)
	outcome := "ok"
	if err != nil {
		outcome = "error"
		m.r.failures.WithLabelValues(m.name).Inc()
	} else if c != nil && c.Data != nil {
		m.r.upBytes.WithLabelValues(m.name).Add(float64(c.Data.Len()))
	}
	if !refused(err) {
		m.r.sinkLast.set(m.name, err)
	}
	m.r.uploads.WithLabelValues(m.name, outcome).Observe(time.Since(start).Seconds())
	return loc, err
}

// Unwrap returns the measured sink.
func (m *measuredSink) Unwrap() agent.Sink { return m.s }

// refused reports whether err is a refusal that retrying cannot help (an
// Unretryable() bool method returning true): the sink answered, and
// refused what this request asked for.
func refused(err error) bool {
	var u interface{ Unretryable() bool }
	return errors.As(err, &u) && u.Unretryable()
}
