package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// LocalState is what the local directory holds now.
type LocalState struct {
	Files int   // capture files the local sink wrote and retention keeps
	Bytes int64 // their bytes
}

// The reasons of LocalRemoved, as the local sink names them: the bound
// that removed the file.
var localReasons = []string{"age", "files", "bytes"}

// localCollector reads the local directory's state at scrape time and
// counts the files retention removed.
type localCollector struct {
	files, bytes *prometheus.Desc
	removed      *prometheus.CounterVec // reason
	removedBytes prometheus.Counter

	state atomic.Pointer[func() (LocalState, error)]
}

func newLocalCollector() *localCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil)
	}
	c := &localCollector{
		files: d("local_files", "Capture files in the local directory ([general] localdir); 0 without local files."),
		bytes: d("local_bytes", "Bytes of the capture files in the local directory."),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "local_removed_total",
			Help: "Local capture files removed by retention, by the bound that removed them (age, files, bytes: [general] localmaxage, localmaxfiles, localmaxbytes).",
		}, []string{"reason"}),
		removedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "local_removed_bytes_total",
			Help: "Bytes of the local capture files removed by retention.",
		}),
	}
	for _, r := range localReasons {
		c.removed.WithLabelValues(r) // present at 0 from the start
	}
	return c
}

// localMetrics returns the registry's local directory collector,
// registering it on first use.
func (r *Registry) localMetrics() *localCollector {
	r.localOnce.Do(func() {
		r.local = newLocalCollector()
		r.reg.MustRegister(r.local)
	})
	return r.local
}

// WatchLocal reports the local directory's state, read at every scrape
// (on an error, which state logs, zeros).
func (r *Registry) WatchLocal(state func() (LocalState, error)) {
	r.localMetrics().state.Store(&state)
}

// LocalRemoved counts a local capture file of size bytes that retention
// removed for reason ("age", "files" or "bytes").
func (r *Registry) LocalRemoved(reason string, size int64) {
	c := r.localMetrics()
	c.removed.WithLabelValues(reason).Inc()
	c.removedBytes.Add(float64(max(size, 0)))
}

// Describe implements prometheus.Collector.
func (c *localCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.files
	ch <- c.bytes
	c.removed.Describe(ch)
	c.removedBytes.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *localCollector) Collect(ch chan<- prometheus.Metric) {
	var st LocalState
	if f := c.state.Load(); f != nil {
		if s, err := (*f)(); err == nil {
			st = s
		}
	}
	ch <- prometheus.MustNewConstMetric(c.files, prometheus.GaugeValue, float64(st.Files))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	c.removed.Collect(ch)
	c.removedBytes.Collect(ch)
}
