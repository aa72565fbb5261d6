package capfile

import (
	"errors"
	"io"
	"runtime"
	"sort"
	"sync"
)

// ErrReleased is what a read of a released Buffer's Data returns.
var ErrReleased = errors.New("capfile: capture buffer already released")

// Data is a finished capture file held in memory, read without copying it
// whole: a sequence of byte slices (chunks of a Buffer, runs of records a
// File borrows) read as one. It is safe for concurrent use.
//
// The Data of a File that still grows (File.Grow) is read as it grows:
// its readers' WriteTo writes each part once it is there and returns at
// the end of the file; Len, Read, ReadAt and Seek wait for the end first.
type Data struct {
	parts [][]byte
	ends  []int64 // ends[i]: the file offset just past parts[i]
	n     int64
	free  func() // gives the parts' memory back, once

	mu       sync.Mutex
	readers  int  // reads in progress
	released bool // release was called; the last reader frees the memory
	// growing: parts are still being appended (a Grower); grown is
	// broadcast on every append and at the end.
	growing bool
	grown   sync.Cond
	// help, when set, does a piece of the work that grows the file (see
	// Grower.Help): a reader waiting for the next part does that rather
	// than sleep.
	help func() bool
}

// newData returns the Data of parts in order, whose memory free gives
// back once the Data is released and no read is in progress.
func newData(parts [][]byte, free func()) *Data {
	d := &Data{parts: parts, ends: make([]int64, len(parts)), free: free}
	d.grown.L = &d.mu
	for i, p := range parts {
		d.n += int64(len(p))
		d.ends[i] = d.n
	}
	return d
}

// Len returns the size of the file in bytes.
func (d *Data) Len() int64 {
	d.whole()
	return d.n
}

// whole waits until the file has stopped growing.
func (d *Data) whole() {
	d.mu.Lock()
	helping := true
	for d.growing {
		helping = d.waitGrown(helping)
	}
	d.mu.Unlock()
}

// waitGrown waits, with d.mu held, for the file to grow or end: it does
// a piece of the work that grows it when there is one (help) and helping
// is still true, else it sleeps until the next append. It returns false
// once help had nothing left to do; the caller then only sleeps.
func (d *Data) waitGrown(helping bool) bool {
	if h := d.help; h != nil && helping {
		d.mu.Unlock()
		helping = h()
		d.mu.Lock()
		return helping
	}
	d.grown.Wait()
	return helping
}

// NewReader returns an independent reader positioned at offset 0. It is an
// io.ReadSeeker, io.ReaderAt and io.WriterTo (writing to an *os.File with
// writev(2) on Linux); once the Data is released and every read in
// progress has ended, its reads fail with ErrReleased.
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

// done ends a read; the last one after release frees the memory.
func (d *Data) done() {
	d.mu.Lock()
	d.readers--
	free := d.released && d.readers == 0 && !d.growing
	d.mu.Unlock()
	if free {
		d.freeParts()
	}
}

// release frees the memory, or has the last read in progress free it.
func (d *Data) release() {
	d.mu.Lock()
	if d.released {
		d.mu.Unlock()
		return
	}
	d.released = true
	free := d.readers == 0 && !d.growing // else the last reader, or the end of growing
	d.mu.Unlock()
	if free {
		d.freeParts()
	}
}

func (d *Data) freeParts() {
	clear(d.parts)
	d.parts = nil
	if f := d.free; f != nil {
		d.free = nil
		f()
	}
}

// detach arranges for d's memory to be freed once d is garbage, for a
// caller that never releases it, and returns d. A reader holds d, and the
// memory is only handed out during a reader's call, so it outlives every
// use.
func (d *Data) detach() *Data {
	if f := d.free; f != nil {
		d.free = nil
		runtime.AddCleanup(d, func(f func()) { f() }, f)
	}
	return d
}

// part returns the index of the part holding offset off (< d.n) and the
// offset within it.
func (d *Data) part(off int64) (int, int) {
	i := sort.Search(len(d.ends), func(i int) bool { return d.ends[i] > off })
	return i, int(off - (d.ends[i] - int64(len(d.parts[i]))))
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
	r.d.whole()
	n := 0
	if off < r.d.n && len(p) > 0 {
		i, o := r.d.part(off)
		for ; n < len(p) && i < len(r.d.parts); i, o = i+1, 0 {
			n += copy(p[n:], r.d.parts[i][o:])
		}
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
		abs = r.d.Len() + offset
	default:
		return 0, errors.New("capfile: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("capfile: negative position")
	}
	r.off = abs
	return abs, nil
}

// WriteTo implements io.WriterTo: it writes the parts from the read offset
// straight to w, several at a time (writev) when w is a file.
func (r *bufferReader) WriteTo(w io.Writer) (int64, error) {
	if err := r.d.acquire(); err != nil {
		return 0, err
	}
	defer r.d.done()
	n, err := r.d.writeFrom(w, r.off)
	r.off += n
	return n, err
}

// writeFrom writes the file from offset off to w: the parts there are, and
// those appended while it writes, until the file is whole.
func (d *Data) writeFrom(w io.Writer, off int64) (int64, error) {
	var (
		total int64
		next  int   // the first part not written
		at    int64 // the file offset of parts[next]
		rest  [][]byte
	)
	helping := true
	for {
		d.mu.Lock()
		for next == len(d.parts) && d.growing {
			helping = d.waitGrown(helping)
		}
		more := d.growing
		rest = rest[:0]
		for ; next < len(d.parts); next++ {
			p := d.parts[next]
			if skip := off - at; skip > 0 { // before the offset: skip it, or its start
				p = p[min(skip, int64(len(p))):]
			}
			at += int64(len(d.parts[next]))
			if len(p) > 0 {
				rest = append(rest, p)
			}
		}
		d.mu.Unlock()
		n, err := writeParts(w, rest)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

// writeEach writes parts to w one Write at a time.
func writeEach(w io.Writer, parts [][]byte) (int64, error) {
	var total int64
	for _, p := range parts {
		k, err := w.Write(p)
		total += int64(k)
		if err != nil {
			return total, err
		}
		if k < len(p) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}
