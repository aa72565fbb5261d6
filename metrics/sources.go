package metrics

import (
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// SourceState is what a request source reports about its connection.
type SourceState struct {
	Up    bool   // connected and taking requests (ready)
	State string // the source's own word: "subscribed", "down", "receiving", ...
}

// sourceCollector reads the state of the request sources, their drop
// counters and the Guard's rejections at scrape time.
type sourceCollector struct {
	up, state, dropped, refused, guard *prometheus.Desc

	mu       sync.Mutex
	states   map[string]func() SourceState
	drops    map[string]func() uint64
	refusals map[string]func() uint64
	rejected func() map[string]uint64
}

func newSourceCollector() *sourceCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &sourceCollector{
		up:       d("source_up", "1 when the request source is connected and taking requests.", "source"),
		state:    d("source_state", "Always 1; the state label is the source's connection state.", "source", "state"),
		dropped:  d("requests_dropped_total", "Messages a source dropped before submitting them (too large, or its queue was full).", "source"),
		refused:  d("requests_refused_deleted_total", "Messages the Guard refused that the source deleted from its queue, so that they do not come back.", "source"),
		guard:    d("guard_rejected_total", "Messages rejected before decoding: too large, or not properly signed.", "reason"),
		states:   map[string]func() SourceState{},
		drops:    map[string]func() uint64{},
		refusals: map[string]func() uint64{},
	}
}

// sources returns the registry's source collector, registering it on first
// use.
func (r *Registry) sources() *sourceCollector {
	r.srcOnce.Do(func() {
		r.src = newSourceCollector()
		r.reg.MustRegister(r.src)
	})
	return r.src
}

// WatchSource reports a request source's state, read at every scrape.
func (r *Registry) WatchSource(name string, state func() SourceState) {
	c := r.sources()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.states[name] = state
}

// WatchDropped reports a source's count of dropped messages.
func (r *Registry) WatchDropped(name string, dropped func() uint64) {
	c := r.sources()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops[name] = dropped
}

// WatchRefused reports a source's count of messages the Guard refused and
// the source deleted (sqs.Queue.Refused).
func (r *Registry) WatchRefused(name string, refused func() uint64) {
	c := r.sources()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refusals[name] = refused
}

// WatchGuard reports the Guard's rejections by reason
// (transport.Guard.Rejected).
func (r *Registry) WatchGuard(rejected func() map[string]uint64) {
	c := r.sources()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejected = rejected
}

// Describe implements prometheus.Collector.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.state
	ch <- c.dropped
	ch <- c.refused
	ch <- c.guard
}

// Collect implements prometheus.Collector.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	states, drops, refusals, rejected := maps.Clone(c.states), maps.Clone(c.drops), maps.Clone(c.refusals), c.rejected
	c.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(states)) {
		s := states[name]()
		up := 0.0
		if s.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, name)
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, 1, name, s.State)
	}
	for _, name := range slices.Sorted(maps.Keys(drops)) {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(drops[name]()), name)
	}
	for _, name := range slices.Sorted(maps.Keys(refusals)) {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(refusals[name]()), name)
	}
	if rejected != nil {
		m := rejected()
		for _, reason := range slices.Sorted(maps.Keys(m)) {
			ch <- prometheus.MustNewConstMetric(c.guard, prometheus.CounterValue, float64(m[reason]), reason)
		}
	}
}
