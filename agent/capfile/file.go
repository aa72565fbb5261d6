package capfile

// File is a capture file assembled from pieces that already hold its
// bytes, in file order: headers and trailers it copies, Buffers whose
// chunks it takes over, and runs of records in memory it only borrows
// (such as a capture's ring blocks, rewritten in place into records).
// Nothing is copied but the small pieces; its Data reads the pieces as
// one file, and releasing it gives every piece's memory back. A File is
// not safe for concurrent use; its Data is.
type File struct {
	parts [][]byte
	n     int64
	frees []func()
	d     *Data
}

// Append appends a copy of p (a file header or trailer: a few hundred
// bytes at most).
func (f *File) Append(p []byte) {
	f.add(append([]byte(nil), p...))
}

// AppendBuffer appends b's bytes and takes its chunks over: they go back
// to b's pool when the File is released. b is left empty.
func (f *File) AppendBuffer(b *Buffer) {
	for _, p := range b.parts() {
		f.add(p)
	}
	f.Own(b)
}

// Own takes b's chunks over without appending b's bytes: they go back to
// b's pool when the File is released. It is for bytes the caller put in
// b with Append and borrows into the File in an order of its own. b is
// left empty.
func (f *File) Own(b *Buffer) {
	chunks, pool := b.chunks, b.pool
	f.frees = append(f.frees, func() { pool.put(chunks) })
	b.chunks, b.n, b.off = nil, 0, 0
}

// Borrow appends p without copying it: p must stay as it is until the
// File is released (OnRelease says when).
func (f *File) Borrow(p []byte) { f.add(p) }

// OnRelease has fn run once the File is released and no read of its Data
// is in progress: the owner of borrowed memory takes it back then.
// Functions run in the order they were added.
func (f *File) OnRelease(fn func()) { f.frees = append(f.frees, fn) }

func (f *File) add(p []byte) {
	if len(p) > 0 {
		f.parts = append(f.parts, p)
		f.n += int64(len(p))
	}
}

// Len returns the size of the file in bytes; the size of a File that
// still grows (Grow) once it is whole.
func (f *File) Len() int64 {
	if f.d != nil {
		return f.d.Len()
	}
	return f.n
}

// Data returns the finished file, for reading. Appending to f after Data
// is not allowed; Release frees both.
func (f *File) Data() *Data {
	if f.d == nil {
		frees := f.frees
		f.d = newData(f.parts, func() {
			for _, fn := range frees {
				fn()
			}
		})
	}
	return f.d
}

// Release gives the memory of every piece back: at once, or when the last
// read of the Data in progress ends. f must not be used afterwards.
func (f *File) Release() {
	f.Data().release()
	f.parts, f.frees = nil, nil
}

// Detach returns the finished file's Data for a caller that never
// releases it: the memory goes back once the Data is garbage. f must not
// be used afterwards.
func (f *File) Detach() *Data { return f.Data().detach() }

// Grow hands the rest of the file to a producer, which appends it through
// the Grower while the file is read: the Data's readers' WriteTo writes
// each part as soon as it is appended (so that writing the file overlaps
// with making its last parts), and Len, Read, ReadAt and Seek wait until
// Done. Everything f holds so far comes first; f itself takes no more
// appends, and Release gives the memory back only after Done, so the
// producer may go on writing into borrowed memory until then.
func (f *File) Grow() *Grower {
	d := f.Data()
	d.mu.Lock()
	d.growing = true
	d.mu.Unlock()
	return &Grower{d: d}
}

// A Grower appends the rest of a File's parts, in file order, while it is
// read (see File.Grow). It is used by one goroutine.
type Grower struct {
	d *Data
}

// Borrow appends p without copying it, as File.Borrow does.
func (g *Grower) Borrow(p []byte) {
	if len(p) == 0 {
		return
	}
	d := g.d
	d.mu.Lock()
	d.parts = append(d.parts, p)
	d.n += int64(len(p))
	d.ends = append(d.ends, d.n)
	d.grown.Broadcast()
	d.mu.Unlock()
}

// Help has the Data's readers that wait for the file to grow (WriteTo,
// and Len, Read, ReadAt and Seek, which wait for its end) call fn rather
// than sleep: fn does one piece of the work that grows the file (it may
// append through the Grower) and reports false when no such piece is
// left, after which they sleep until the next append. A reader that
// writes the file as it grows thus works on it instead of sharing the
// CPUs with the goroutines that make it. fn is called from several
// goroutines at once and without any lock of the Data; readers that
// already sleep start on it at once.
func (g *Grower) Help(fn func() bool) {
	d := g.d
	d.mu.Lock()
	d.help = fn
	d.grown.Broadcast()
	d.mu.Unlock()
}

// Append appends a copy of p (a trailer).
func (g *Grower) Append(p []byte) { g.Borrow(append([]byte(nil), p...)) }

// Done ends the file: its readers see its end, and a Release that came
// meanwhile gives the memory back (once no read is in progress). The
// Grower must not be used afterwards.
func (g *Grower) Done() {
	d := g.d
	d.mu.Lock()
	d.growing = false
	d.help = nil
	d.grown.Broadcast()
	free := d.released && d.readers == 0
	d.mu.Unlock()
	if free {
		d.freeParts()
	}
}
