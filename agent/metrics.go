package agent

// Metrics are the agent's counters since it started, for /metrics.
type Metrics struct {
	Accepted   uint64 // requests admitted
	Rejected   uint64 // requests rejected (invalid or not admitted)
	NotForNode uint64 // requests for other nodes
	Duplicates uint64 // request ids seen again

	Captures       map[Status]uint64 // finished interface captures by status
	Packets        uint64            // packets captured
	Bytes          uint64            // file bytes captured
	KernelDrops    uint64            // packets the kernel dropped
	ResultsDropped uint64            // result events lost to a full queue

	// FilterCacheHits counts the filters taken compiled from the agent's
	// cache, FilterCacheMisses those compiled because the cache had no
	// program for them (filters with names never come from the cache).
	FilterCacheHits, FilterCacheMisses uint64

	Active         int   // interface captures running now
	MemoryReserved int64 // bytes reserved by them
	MemoryBudget   int64 // Config.MaxMemory

	// Lookback is what each look-back ring holds now, by interface name.
	Lookback []LookbackStatus
}

// counters are the running totals behind Metrics; the Agent's mutex
// guards them.
type counters struct {
	accepted, rejected, notForNode, duplicates uint64
	byStatus                                   map[Status]uint64
	packets, bytes, drops                      uint64
}

func (c *counters) capture(r *Result) {
	if c.byStatus == nil {
		c.byStatus = make(map[Status]uint64)
	}
	c.byStatus[r.Status]++
	c.packets += r.Packets
	c.bytes += r.Bytes
	c.drops += r.KernelDrops
}

// Metrics returns a snapshot of the agent's counters.
func (a *Agent) Metrics() Metrics {
	lookback := a.lookback.Status() // not under a.mu: the rings have locks of their own
	hits, misses, _, _ := a.progs.stats()
	a.mu.Lock()
	defer a.mu.Unlock()
	m := Metrics{
		Lookback: lookback,
		Accepted: a.count.accepted, Rejected: a.count.rejected,
		NotForNode: a.count.notForNode, Duplicates: a.count.duplicates,
		Captures: make(map[Status]uint64, len(a.count.byStatus)),
		Packets:  a.count.packets, Bytes: a.count.bytes, KernelDrops: a.count.drops,
		ResultsDropped:  a.dropped,
		FilterCacheHits: hits, FilterCacheMisses: misses,
		Active: a.active, MemoryReserved: a.memUsed, MemoryBudget: a.cfg.MaxMemory,
	}
	for k, v := range a.count.byStatus {
		m.Captures[k] = v
	}
	return m
}

// bump increments one request counter.
func (a *Agent) bump(p *uint64) {
	a.mu.Lock()
	*p++
	a.mu.Unlock()
}
