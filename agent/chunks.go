package agent

import (
	"errors"
	"io"
	"sync"
)

// chunkPool is the agent's recycle list of fixed-size buffer chunks. A
// capture buffer grows one chunk at a time and never copies what it holds;
// finished buffers give their chunks back after delivery. At most maxFree
// idle chunks are kept, the rest are left to the garbage collector.
type chunkPool struct {
	size    int
	maxFree int

	mu   sync.Mutex
	free [][]byte
}

func newChunkPool(size, maxFree int) *chunkPool {
	return &chunkPool{size: size, maxFree: maxFree}
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
	return make([]byte, p.size)
}

func (p *chunkPool) put(chunks [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range chunks {
		if len(p.free) >= p.maxFree {
			return
		}
		if len(c) == p.size {
			p.free = append(p.free, c)
		}
	}
}

// buffer is an append-only byte store made of fixed-size chunks.
type buffer struct {
	pool   *chunkPool
	chunks [][]byte
	n      int64 // bytes written
	off    int   // bytes used in the last chunk
}

func newBuffer(pool *chunkPool) *buffer {
	return &buffer{pool: pool, chunks: make([][]byte, 0, 64)}
}

// Len is the number of bytes written.
func (b *buffer) Len() int64 { return b.n }

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
func (b *buffer) release() {
	b.pool.put(b.chunks)
	clear(b.chunks)
	b.chunks = nil
	b.n, b.off = 0, 0
}

// data returns the finished buffer as CaptureData.
func (b *buffer) data() *bufferData {
	return &bufferData{chunks: b.chunks, size: b.pool.size, n: b.n}
}

// bufferData is a finished, read-only buffer. It implements CaptureData.
type bufferData struct {
	chunks [][]byte
	size   int // chunk size
	n      int64
}

// Len implements CaptureData.
func (d *bufferData) Len() int64 { return d.n }

// NewReader implements CaptureData: the reader is an io.ReadSeeker,
// io.ReaderAt and io.WriterTo.
func (d *bufferData) NewReader() io.ReadSeeker { return &bufferReader{d: d} }

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
