package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// SpoolState is what the spool directory holds now.
type SpoolState struct {
	Captures int   // spooled captures (retried or given up)
	Bytes    int64 // bytes of their files
	MaxBytes int64 // the cap ([general] spoolmaxbytes; 0 with no spool)
}

// spoolCollector reads the spool's state at scrape time and counts the
// captures dropped to keep it under its cap.
type spoolCollector struct {
	captures, bytes, maxBytes, dropped, droppedBytes *prometheus.Desc

	state atomic.Pointer[func() SpoolState]
	nDrop atomic.Uint64
	bDrop atomic.Uint64
}

func newSpoolCollector() *spoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)
	}
	return &spoolCollector{
		captures:     d("spool_captures", "Captures kept in the spool directory (being retried or given up)."),
		bytes:        d("spool_bytes", "Bytes of the capture files in the spool directory."),
		maxBytes:     d("spool_max_bytes", "The spool's cap ([general] spoolmaxbytes); 0 without a spool directory."),
		dropped:      d("spool_dropped_total", "Spooled captures dropped (lost) to make room under the spool's cap."),
		droppedBytes: d("spool_dropped_bytes_total", "Bytes of the spooled captures dropped to make room."),
	}
}

// spoolMetrics returns the registry's spool collector, registering it on
// first use.
func (r *Registry) spoolMetrics() *spoolCollector {
	r.spoolOnce.Do(func() {
		r.spool = newSpoolCollector()
		r.reg.MustRegister(r.spool)
	})
	return r.spool
}

// WatchSpool reports the spool's state, read at every scrape.
func (r *Registry) WatchSpool(state func() SpoolState) {
	r.spoolMetrics().state.Store(&state)
}

// SpoolDropped counts a spooled capture of size bytes dropped to make room.
func (r *Registry) SpoolDropped(size int64) {
	c := r.spoolMetrics()
	c.nDrop.Add(1)
	c.bDrop.Add(uint64(max(size, 0)))
}

// Describe implements prometheus.Collector.
func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.captures, c.bytes, c.maxBytes, c.dropped, c.droppedBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	var st SpoolState
	if f := c.state.Load(); f != nil {
		st = (*f)()
	}
	ch <- prometheus.MustNewConstMetric(c.captures, prometheus.GaugeValue, float64(st.Captures))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(c.maxBytes, prometheus.GaugeValue, float64(st.MaxBytes))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(c.nDrop.Load()))
	ch <- prometheus.MustNewConstMetric(c.droppedBytes, prometheus.CounterValue, float64(c.bDrop.Load()))
}

// sinkOutcomes remembers the outcome of each sink's most recent delivery
// (see Registry.SinkFailing).
type sinkOutcomes struct {
	mu   sync.Mutex
	last map[string]error
}

func (o *sinkOutcomes) set(name string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.last == nil {
		o.last = map[string]error{}
	}
	o.last[name] = err
}

func (o *sinkOutcomes) get(name string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[name]
}

// SinkFailing returns the error of the most recent delivery of the sink
// named name (measured by InstrumentSink) when that delivery failed, and
// nil when it succeeded or none was made yet. A refusal that retrying
// cannot help (a request's override that the sink does not allow: the
// error has an Unretryable() bool method returning true) says nothing
// about the sink and leaves its state as it was.
func (r *Registry) SinkFailing(name string) error { return r.sinkLast.get(name) }
