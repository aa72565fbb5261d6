//go:build linux

package afpacket

import "golang.org/x/net/bpf"

// PoolSpares returns how many spares p holds.
func PoolSpares(p *Pool) int { return p.spareCount() }

// PoolSpareFor returns how many spares p holds for cfg's geometry.
func PoolSpareFor(p *Pool, cfg Config) int {
	s, err := cfg.settings()
	if err != nil {
		return 0
	}
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	return len(p.st.free[s.geometry()])
}

// PoolHits returns how many opens p served from a spare.
func PoolHits(p *Pool) int64 { return p.st.hits.Load() }

// PoolSpareFilter returns the program attached to p's first spare of
// cfg's geometry (nil: none, or no spare).
func PoolSpareFilter(p *Pool, cfg Config) []bpf.RawInstruction {
	s, err := cfg.settings()
	if err != nil {
		return nil
	}
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	if l := p.st.free[s.geometry()]; len(l) > 0 {
		return l[0].filter
	}
	return nil
}
