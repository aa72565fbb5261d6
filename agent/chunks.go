package agent

import (
	"errors"
	"io"
	"sync"
)

// chunkPool is the agent's recycle list of fixed-size buffer chunks. A
// capture buffer grows one chunk at a time and never copies what it holds;
// finished buffers give their chunks back after delivery. At most maxFree
// idle chunks are kept; the rest go back to the system.
//
// When the chunk size is a multiple of the huge page size the chunks are
// mapped outside the Go heap (see mapChunk) and unmapped when dropped.
type chunkPool struct {
	size    int
	maxFree int
	mapped  bool

	mu   sync.Mutex
	free [][]byte
	// heap holds the chunks of a mapped pool that came from the heap
	// because mapping failed: those must never be unmapped.
	heap map[*byte]struct{}
}

func newChunkPool(size, maxFree int) *chunkPool {
	return &chunkPool{size: size, maxFree: maxFree, mapped: size%hugePageSize == 0}
}

func (p *chunkPool) get() []byte {
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
func (p *chunkPool) put(chunks [][]byte) {
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

// drain drops every idle chunk and keeps none from now on: the pool's
// owner is done with it.
func (p *chunkPool) drain() {
	p.mu.Lock()
	free := p.free
	p.free, p.maxFree = nil, 0
	p.mu.Unlock()
	p.put(free)
}

// buffer is an append-only byte store made of fixed-size chunks.
type buffer struct {
	pool   *chunkPool
	chunks [][]byte
	n      int64 // bytes written
	off    int   // bytes used in the last chunk
	d      *bufferData
}

func newBuffer(pool *chunkPool) *buffer {
	return &buffer{pool: pool, chunks: make([][]byte, 0, 64)}
}

// Len is the number of bytes written.
func (b *buffer) Len() int64 { return b.n }

// reserve returns the next k bytes of the buffer for the caller to fill,
// or nil when they do not fit in the current chunk (then write). It is the
// per-packet fast path: one bounds check, no copy of a header.
func (b *buffer) reserve(k int) []byte {
	if len(b.chunks) == 0 {
		return nil
	}
	c := b.chunks[len(b.chunks)-1]
	end := b.off + k
	if end > len(c) {
		return nil
	}
	r := c[b.off:end:end]
	b.off = end
	b.n += int64(k)
	return r
}

// write appends p, taking new chunks as needed.
func (b *buffer) write(p []byte) {
	for len(p) > 0 {
		if len(b.chunks) == 0 || b.off == len(b.chunks[len(b.chunks)-1]) {
			b.chunks = append(b.chunks, b.pool.get())
			b.off = 0
		}
		c := b.chunks[len(b.chunks)-1]
		k := copy(c[b.off:], p)
		b.off += k
		b.n += int64(k)
		p = p[k:]
	}
}

// zero appends n zero bytes (padding).
func (b *buffer) zero(n int) {
	var z [8]byte
	for n > 0 {
		k := min(n, len(z))
		b.write(z[:k])
		n -= k
	}
}

// release hands the chunks back to the pool; b must not be used afterwards.
// Readers of b's data that are still reading (an HTTP transport may read a
// request body after its round trip returned) keep the chunks until they
// finish; later reads fail with errReleased.
func (b *buffer) release() {
	chunks := b.chunks
	b.chunks = nil
	b.n, b.off = 0, 0
	if d := b.d; d != nil {
		b.d = nil
		d.release()
		return
	}
	b.pool.put(chunks)
}

// data returns the finished buffer as CaptureData. Writing to b after
// data is not allowed; release frees both.
func (b *buffer) data() *bufferData {
	if b.d == nil {
		b.d = &bufferData{chunks: b.chunks, size: b.pool.size, n: b.n, pool: b.pool}
	}
	return b.d
}

// errReleased is what a read of a released buffer returns.
var errReleased = errors.New("agent: capture buffer already released")

// bufferData is a finished, read-only buffer. It implements CaptureData.
type bufferData struct {
	chunks [][]byte
	size   int // chunk size
	n      int64
	pool   *chunkPool

	mu       sync.Mutex
	readers  int  // reads in progress
	released bool // release was called; the last reader frees the chunks
}

// Len implements CaptureData.
func (d *bufferData) Len() int64 { return d.n }

// NewReader implements CaptureData: the reader is an io.ReadSeeker,
// io.ReaderAt and io.WriterTo.
func (d *bufferData) NewReader() io.ReadSeeker { return &bufferReader{d: d} }

// acquire marks a read in progress; it fails once the data is released.
func (d *bufferData) acquire() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		return errReleased
	}
	d.readers++
	return nil
}

// done ends a read; the last one after release frees the chunks.
func (d *bufferData) done() {
	d.mu.Lock()
	d.readers--
	free := d.released && d.readers == 0
	d.mu.Unlock()
	if free {
		d.free()
	}
}

func (d *bufferData) release() {
	d.mu.Lock()
	if d.released {
		d.mu.Unlock()
		return
	}
	d.released = true
	free := d.readers == 0
	d.mu.Unlock()
	if free {
		d.free()
	}
}

func (d *bufferData) free() {
	if d.pool != nil {
		d.pool.put(d.chunks)
	}
	clear(d.chunks)
	d.chunks = nil
}

// bufferReader reads a bufferData without copying it whole.
type bufferReader struct {
	d   *bufferData
	off int64
}

var (
	_ io.ReadSeeker = (*bufferReader)(nil)
	_ io.ReaderAt   = (*bufferReader)(nil)
	_ io.WriterTo   = (*bufferReader)(nil)
)

func (r *bufferReader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt implements io.ReaderAt; it does not move the read offset.
func (r *bufferReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("agent: negative offset")
	}
	if err := r.d.acquire(); err != nil {
		return 0, err
	}
	defer r.d.done()
	n := 0
	for n < len(p) && off < r.d.n {
		ci, co := off/int64(r.d.size), off%int64(r.d.size)
		end := min(int64(r.d.size), r.d.n-ci*int64(r.d.size))
		k := copy(p[n:], r.d.chunks[ci][co:end])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *bufferReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.d.n + offset
	default:
		return 0, errors.New("agent: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("agent: negative position")
	}
	r.off = abs
	return abs, nil
}

// WriteTo implements io.WriterTo: it writes the chunks from the read offset
// straight to w.
func (r *bufferReader) WriteTo(w io.Writer) (int64, error) {
	if err := r.d.acquire(); err != nil {
		return 0, err
	}
	defer r.d.done()
	var total int64
	for r.off < r.d.n {
		ci, co := r.off/int64(r.d.size), r.off%int64(r.d.size)
		end := min(int64(r.d.size), r.d.n-ci*int64(r.d.size))
		k, err := w.Write(r.d.chunks[ci][co:end])
		r.off += int64(k)
		total += int64(k)
		if err != nil {
			return total, err
		}
		if int64(k) < end-co {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}
