package metrics

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// AgentStats reports the agent's counters; *agent.Agent implements it.
type AgentStats interface {
	Metrics() agent.Metrics
}

// WatchAgent registers collectors that read a's counters, and what its
// look-back rings hold, at every scrape.
func (r *Registry) WatchAgent(a AgentStats) error {
	if err := r.Register(newAgentCollector(a)); err != nil {
		return err
	}
	return r.Register(newLookbackCollector(a))
}

// agentCollector turns one agent.Metrics snapshot per scrape into metrics,
// so that the values stay consistent with each other.
type agentCollector struct {
	src AgentStats

	active, finished, packets, bytes, drops, resultsDropped, reserved, budget *prometheus.Desc
	filterCache                                                               *prometheus.Desc
}

func newAgentCollector(a AgentStats) *agentCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &agentCollector{
		src:            a,
		active:         d("captures_active", "Interface captures admitted and not finished."),
		finished:       d("captures_finished_total", "Finished interface captures by result status (ok, empty, error).", "status"),
		packets:        d("captured_packets_total", "Packets written to capture files."),
		bytes:          d("captured_bytes_total", "Bytes of capture files produced, headers included."),
		drops:          d("kernel_drops_total", "Packets the kernel dropped because a capture's ring was full (PACKET_STATISTICS)."),
		resultsDropped: d("results_dropped_total", "Result events lost because the publishing queue was full."),
		reserved:       d("memory_reserved_bytes", "Memory reserved by running captures for their rings and buffers (worst case)."),
		budget:         d("memory_budget_bytes", "The memory budget of running captures ([general] maxmemory)."),
		filterCache:    d("filter_cache_total", "Request filters taken compiled from the agent's cache (result hit) or compiled (miss; a filter that looks up a name is never cached).", "result"),
	}
}

// Describe implements prometheus.Collector.
func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.active, c.finished, c.packets, c.bytes, c.drops, c.resultsDropped, c.reserved, c.budget, c.filterCache} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.src.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.active, float64(m.Active))
	gauge(c.reserved, float64(m.MemoryReserved))
	gauge(c.budget, float64(m.MemoryBudget))
	counter(c.packets, m.Packets)
	counter(c.bytes, m.Bytes)
	counter(c.drops, m.KernelDrops)
	counter(c.resultsDropped, m.ResultsDropped)
	counter(c.filterCache, m.FilterCacheHits, "hit")
	counter(c.filterCache, m.FilterCacheMisses, "miss")
	// The usual statuses are always present, at 0 until one happens, so
	// that rate() and alerts see a series from the first scrape.
	byStatus := map[agent.Status]uint64{agent.StatusOK: 0, agent.StatusEmpty: 0, agent.StatusError: 0}
	maps.Copy(byStatus, m.Captures)
	for _, s := range slices.Sorted(maps.Keys(byStatus)) {
		counter(c.finished, byStatus[s], string(s))
	}
}
