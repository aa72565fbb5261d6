package capture

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// flushDelay bounds how long a record or line written to a streaming
// output waits in the buffer: the ring's block retire timeout, so that a
// reader of the pipe sees frames about as soon as a ring block would hand
// them over. -U and -l flush after every frame instead.
const flushDelay = 10 * time.Millisecond

// output is a buffered destination that is flushed when flushDelay has
// passed since the first unflushed write (or after every write with
// -U), from the capture's goroutine or a timer's. Its first write error
// is kept and ends the capture (stop).
type output struct {
	mu        sync.Mutex
	bw        *bufio.Writer
	flushEach bool
	timer     *time.Timer
	pending   bool
	err       error
	stop      func(error) // called once with the first write error
	n         int64       // bytes written
}

func newOutput(w io.Writer, flushEach bool, stop func(error)) *output {
	o := &output{bw: bufio.NewWriterSize(w, 64<<10), flushEach: flushEach, stop: stop}
	o.timer = time.AfterFunc(time.Hour, o.flush)
	o.timer.Stop()
	return o
}

// Write writes p and arranges its flush. It implements io.Writer for the
// file writer.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.bw.Write(p)
	o.n += int64(n)
	o.failed(err)
	return n, err
}

// written is called after a whole record or line: it flushes now (-U) or
// soon.
func (o *output) written() {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.flushEach:
		o.failed(o.bw.Flush())
	case !o.pending && o.bw.Buffered() > 0:
		o.pending = true
		o.timer.Reset(flushDelay)
	}
}

func (o *output) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending = false
	o.failed(o.bw.Flush())
}

// failed keeps the first error and reports it.
func (o *output) failed(err error) {
	if err == nil || o.err != nil {
		return
	}
	o.err = err
	if o.stop != nil {
		o.stop(err)
	}
}

// close flushes what is left and returns the first error.
func (o *output) close() error {
	o.timer.Stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.failed(o.bw.Flush())
	}
	return o.err
}
