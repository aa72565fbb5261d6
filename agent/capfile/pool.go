package capfile

import "sync"

// HugePageSize is the transparent huge page size on the architectures Go
// supports for Linux capture hosts (x86-64, arm64 with 4 KiB pages). A
// ChunkPool whose chunk size is a multiple of it maps its chunks outside
// the Go heap.
const HugePageSize = 2 << 20

// ChunkPool is a recycle list of fixed-size buffer chunks, shared by the
// Buffers of all captures. A Buffer grows one chunk at a time and never
// copies what it holds; a released Buffer gives its chunks back. At most
// maxFree idle chunks are kept; the rest go back to the system. A
// ChunkPool is safe for concurrent use.
//
// When the chunk size is a multiple of HugePageSize the chunks are mapped
// outside the Go heap (mmap(2), faulted in at once: see mapChunk) and
// unmapped when dropped.
type ChunkPool struct {
	size    int
	maxFree int
	mapped  bool

	mu   sync.Mutex
	free [][]byte
	// heap holds the chunks of a mapped pool that came from the heap
	// because mapping failed: those must never be unmapped.
	heap map[*byte]struct{}
}

// NewChunkPool returns a pool of chunks of size bytes that keeps at most
// maxFree idle chunks for reuse.
func NewChunkPool(size, maxFree int) *ChunkPool {
	return &ChunkPool{size: size, maxFree: maxFree, mapped: size%HugePageSize == 0}
}

// get returns a chunk: an idle one, else a new one.
func (p *ChunkPool) get() []byte {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return c
	}
	p.mu.Unlock()
	if p.mapped {
		if c, err := mapChunk(p.size); err == nil {
			return c
		}
		c := make([]byte, p.size)
		p.mu.Lock()
		if p.heap == nil {
			p.heap = make(map[*byte]struct{})
		}
		p.heap[&c[0]] = struct{}{}
		p.mu.Unlock()
		return c
	}
	return make([]byte, p.size)
}

// put takes chunks back: they are kept for reuse up to maxFree, dropped
// beyond that. The caller must not use them afterwards.
func (p *ChunkPool) put(chunks [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range chunks {
		if len(c) != p.size {
			continue
		}
		if len(p.free) < p.maxFree {
			p.free = append(p.free, c)
			continue
		}
		if !p.mapped {
			continue // the garbage collector's
		}
		if _, ok := p.heap[&c[0]]; ok {
			delete(p.heap, &c[0])
			continue
		}
		_ = unmapChunk(c) // only fails for a range that is not mapped
	}
}

// Drain drops every idle chunk and keeps none from now on: the pool's
// owner is done with it. Chunks given back later are dropped.
func (p *ChunkPool) Drain() {
	p.mu.Lock()
	free := p.free
	p.free, p.maxFree = nil, 0
	p.mu.Unlock()
	p.put(free)
}
