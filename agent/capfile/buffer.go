package capfile

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

// Write appends p, taking new chunks as needed. It never fails: chunk
// memory comes from the pool or the system.
func (b *Buffer) Write(p []byte) (int, error) {
	b.write(p)
	return len(p), nil
}

// Append appends p, as Write does, and returns parts with the pieces of
// b's chunks that now hold p appended (one, or more where p crosses into
// new chunks): for a caller that keeps track of where its bytes went.
func (b *Buffer) Append(parts [][]byte, p []byte) [][]byte {
	for len(p) > 0 {
		if len(b.chunks) == 0 || b.off == len(b.chunks[len(b.chunks)-1]) {
			b.chunks = append(b.chunks, b.pool.get())
			b.off = 0
		}
		c := b.chunks[len(b.chunks)-1]
		k := copy(c[b.off:], p)
		parts = append(parts, c[b.off:b.off+k:b.off+k])
		b.off += k
		b.n += int64(k)
		p = p[k:]
	}
	return parts
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
		chunks, pool := b.chunks, b.pool
		b.d = newData(b.parts(), func() { pool.put(chunks) })
	}
	return b.d
}

// parts returns the written bytes of the chunks, in order.
func (b *Buffer) parts() [][]byte {
	parts := make([][]byte, len(b.chunks))
	copy(parts, b.chunks)
	if n := len(parts); n > 0 {
		parts[n-1] = parts[n-1][:b.off]
	}
	return parts
}

// Detach returns the finished buffer's Data for a caller that never
// releases it: its chunks go back to the pool once the Data is garbage.
// b must not be used afterwards.
func (b *Buffer) Detach() *Data { return b.Data().detach() }
