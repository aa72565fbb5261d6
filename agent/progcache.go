package agent

import (
	"container/list"
	"slices"
	"sync"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"golang.org/x/net/bpf"
)

// Bounds of an Agent's cache of compiled filters: a few MiB at most.
const (
	progCacheEntries = 256
	progCacheBytes   = 4 << 20
)

// progKey is everything a compiled program depends on besides the
// resolver's answers: the expression, the compiler's options (the
// Resolver left nil, so an option added to bpfcompile.Options joins the
// key by itself) and whether names are refused.
type progKey struct {
	expr    string
	opts    bpfcompile.Options
	noNames bool
}

// progEntry is one cached program. prog and raw are shared by every
// request that hits it and never written to (capacity clipped, so an
// append copies).
type progEntry struct {
	key  progKey
	prog []bpf.Instruction
	raw  []bpf.RawInstruction
	size int64
}

// progCache keeps the programs of recently compiled filters, least
// recently used first out, so that a request an alert rule repeats does
// not compile its filter again (tens to hundreds of µs of a request's
// arming time). Only compilations that asked the resolver nothing are
// kept: a name may resolve differently next time. A nil *progCache keeps
// nothing.
type progCache struct {
	maxEntries int
	maxBytes   int64

	mu     sync.Mutex
	lru    list.List // of *progEntry, most recently used at the front
	byKey  map[progKey]*list.Element
	bytes  int64
	hits   uint64
	misses uint64
}

func newProgCache(maxEntries int, maxBytes int64) *progCache {
	return &progCache{maxEntries: maxEntries, maxBytes: maxBytes, byKey: make(map[progKey]*list.Element)}
}

// get returns the program cached under k, counting a hit or a miss.
func (c *progCache) get(k progKey) ([]bpf.Instruction, []bpf.RawInstruction, bool) {
	if c == nil {
		return nil, nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		c.misses++
		return nil, nil, false
	}
	c.hits++
	c.lru.MoveToFront(el)
	e := el.Value.(*progEntry)
	return e.prog, e.raw, true
}

// put caches prog and raw under k, evicting the least recently used
// entries beyond the bounds. A program bigger than the whole cache is not
// kept.
func (c *progCache) put(k progKey, prog []bpf.Instruction, raw []bpf.RawInstruction) {
	if c == nil {
		return
	}
	e := &progEntry{key: k, prog: slices.Clip(prog), raw: slices.Clip(raw), size: entrySize(k, prog, raw)}
	if e.size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok { // two requests compiled it at once
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[k] = c.lru.PushFront(e)
	c.bytes += e.size
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		old := c.lru.Remove(c.lru.Back()).(*progEntry)
		delete(c.byKey, old.key)
		c.bytes -= old.size
	}
}

// stats returns the hits and misses so far, and the entries and bytes held.
func (c *progCache) stats() (hits, misses uint64, entries int, bytes int64) {
	if c == nil {
		return 0, 0, 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, c.lru.Len(), c.bytes
}

// entrySize estimates the memory of one entry: the expression twice (key
// and map), each instruction as an interface value and its boxed
// struct, each raw instruction, and the bookkeeping.
func entrySize(k progKey, prog []bpf.Instruction, raw []bpf.RawInstruction) int64 {
	const perInsn, perRaw, fixed = 16 + 24, 8, 256
	return int64(2*len(k.expr) + perInsn*len(prog) + perRaw*len(raw) + fixed)
}
