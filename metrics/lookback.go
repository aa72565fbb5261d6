package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// lookbackCollector turns the look-back rings of one agent.Metrics
// snapshot per scrape into metrics, one series per ring's interface.
type lookbackCollector struct {
	src AgentStats

	open, ring, bytes, packets, seconds, oldest, drops *prometheus.Desc
}

func newLookbackCollector(a AgentStats) *lookbackCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "lookback", name), help, []string{"interface"}, nil)
	}
	return &lookbackCollector{
		src:     a,
		open:    d("open", "1 while the interface's look-back ring captures, 0 while its interface is down or gone."),
		ring:    d("ring_bytes", "Memory of the interface's look-back ring, the kernel's free room included (charged to maxmemory)."),
		bytes:   d("bytes", "Bytes of the ring blocks holding the look-back history (frames with their ring headers)."),
		packets: d("packets", "Frames the look-back ring holds."),
		seconds: d("seconds", "Time span of the look-back history: from its oldest frame to its newest."),
		oldest:  d("oldest_timestamp_seconds", "Time of the oldest frame the look-back ring holds (0: none)."),
		drops:   d("kernel_drops_total", "Frames the kernel dropped for want of a free block of the look-back ring since it was opened."),
	}
}

// Describe implements prometheus.Collector.
func (c *lookbackCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.ring, c.bytes, c.packets, c.seconds, c.oldest, c.drops} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *lookbackCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.src.Metrics().Lookback {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, st.Interface)
		}
		open := 0.0
		if st.Open {
			open = 1
		}
		gauge(c.open, open)
		gauge(c.ring, float64(st.RingBytes))
		gauge(c.bytes, float64(st.Bytes))
		gauge(c.packets, float64(st.Packets))
		gauge(c.seconds, st.Seconds())
		oldest := 0.0
		if !st.Oldest.IsZero() {
			oldest = float64(st.Oldest.UnixNano()) / 1e9
		}
		gauge(c.oldest, oldest)
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(st.Drops), st.Interface)
	}
}
