package capfile

import (
	"errors"
	"io"
	"runtime"
	"sync"
)

// Buffer is an append-only byte store made of fixed-size chunks of a
// ChunkPool: one capture file while it is written. It is not safe for
// concurrent use; its Data is.
type Buffer struct {
	pool   *ChunkPool
	chunks [][]byte
	n      int64 // bytes written
	off    int   // bytes used in the last chunk
	d      *Data
}

// NewBuffer returns an empty Buffer that takes its chunks from pool.
func NewBuffer(pool *ChunkPool) *Buffer {
	return &Buffer{pool: pool, chunks: make([][]byte, 0, 64)}
}

// Len returns the number of bytes written.
func (b *Buffer) Len() int64 { return b.n }

// reserve returns the next k bytes of the buffer for the caller to fill,
// or nil when they do not fit in the current chunk (then write). It is the
// per-packet fast path: one bounds check, no copy of a header.
func (b *Buffer) reserve(k int) []byte {
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
func (b *Buffer) write(p []byte) {
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

// Release hands the chunks back to the pool; b must not be used afterwards.
// Readers of b's Data that are still reading (an HTTP transport may read a
// request body after its round trip returned) keep the chunks until they
// finish; later reads fail with ErrReleased.
func (b *Buffer) Release() {
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

// Data returns the finished buffer, for reading. Writing to b after Data
// is not allowed; Release frees both.
func (b *Buffer) Data() *Data {
	if b.d == nil {
		b.d = &Data{chunks: b.chunks, size: b.pool.size, n: b.n, pool: b.pool}
	}
	return b.d
}

// Detach returns the finished buffer's Data for a caller that never
// releases it: its chunks go back to the pool once the Data is garbage.
// b must not be used afterwards.
func (b *Buffer) Detach() *Data {
	d := b.Data()
	// A reader holds d, and chunk memory is only handed out during a
	// reader's call, so the chunks outlive every use.
	pool := b.pool
	runtime.AddCleanup(d, func(chunks [][]byte) { pool.put(chunks) }, d.chunks)
	return d
}

// ErrReleased is what a read of a released Buffer's Data returns.
var ErrReleased = errors.New("capfile: capture buffer already released")

// Data is a finished, read-only Buffer: the capture file, read without
// copying it whole. It is safe for concurrent use.
type Data struct {
	chunks [][]byte
	size   int // chunk size
	n      int64
	pool   *ChunkPool

	mu       sync.Mutex
	readers  int  // reads in progress
	released bool // release was called; the last reader frees the chunks
}

// Len returns the size of the file in bytes.
func (d *Data) Len() int64 { return d.n }

// NewReader returns an independent reader positioned at offset 0. It is an
// io.ReadSeeker, io.ReaderAt and io.WriterTo; once the Buffer is released
// and every read in progress has ended, its reads fail with ErrReleased.
func (d *Data) NewReader() io.ReadSeeker { return &bufferReader{d: d} }

// acquire marks a read in progress; it fails once the data is released.
func (d *Data) acquire() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		return ErrReleased
	}
	d.readers++
	return nil
}

// done ends a read; the last one after release frees the chunks.
func (d *Data) done() {
	d.mu.Lock()
	d.readers--
	free := d.released && d.readers == 0
	d.mu.Unlock()
	if free {
		d.free()
	}
}

func (d *Data) release() {
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

func (d *Data) free() {
	if d.pool != nil {
		d.pool.put(d.chunks)
	}
	clear(d.chunks)
	d.chunks = nil
}

// bufferReader reads a Data without copying it whole.
type bufferReader struct {
	d   *Data
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
		return 0, errors.New("capfile: negative offset")
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
		return 0, errors.New("capfile: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("capfile: negative position")
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
