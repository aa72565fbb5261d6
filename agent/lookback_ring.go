package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// This file keeps one look-back ring: one goroutine, its owner, opens the
// socket, keeps every block the kernel hands over, gives the oldest back
// so that the kernel always finds the room it wants, copies out what
// requests ask for (lookback_serve.go), and follows the interface: closes
// the ring when it goes, reopens it when it comes back.
//
// The owner costs per block, never per frame, until a request comes: it
// wakes on a timer (afpacket.Conn.Wait: a timerfd in the netpoller), takes
// the new blocks' descriptors, gives back the oldest ones beyond the held
// count, and sleeps again, for as long as the blocks the kernel may fill
// meanwhile stay within the ring's margin at the rate they come in.

// Wake-ups of a look-back ring's owner.
const (
	// maxLookbackWake is the longest sleep: how late a burst after a
	// quiet spell is noticed.
	maxLookbackWake = 200 * time.Millisecond
	// minLookbackWake is the shortest.
	minLookbackWake = 5 * time.Millisecond
	// lookbackJobPoll is how often the owner looks while a request waits
	// for the block the kernel was filling when it came.
	lookbackJobPoll = 5 * time.Millisecond
)

// lookbackRing is one look-back ring and its owner goroutine.
type lookbackRing struct {
	lb  *Lookback
	cfg LookbackConfig
	geo lookbackGeometry

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	tried  chan struct{} // closed once the first open was tried

	// Owned by the owner goroutine: the kept blocks, oldest first, a FIFO
	// in q from head, n of them; taken counts the blocks ever taken.
	q       []afpacket.Block
	head, n int
	taken   uint64
	got     []afpacket.Block // Keep's, with room for every block
	keepErr error            // what Keep reported during a copy, for the loop

	// Requests waiting for their frames, and the owner's wake-up while it
	// sleeps (nil while it does not).
	mu     sync.Mutex
	jobs   []*lookbackJob
	wake   context.CancelFunc
	exited bool // the owner is gone: no job is taken
	once   sync.Once

	// What the ring holds, for Status (the owner writes, anyone reads).
	open    atomic.Bool
	bytes   atomic.Int64
	packets atomic.Int64
	oldest  atomic.Int64
	newest  atomic.Int64
	drops   atomic.Uint64
	wakes   atomic.Uint64 // the owner's wake-ups, for BenchmarkLookbackRingCPU
	errMu   sync.Mutex
	lastErr string
}

func newLookbackRing(lb *Lookback, c LookbackConfig) *lookbackRing {
	if c.Snaplen <= 0 {
		c.Snaplen = DefaultSnaplen
	}
	geo := geometryOf(c)
	ctx, cancel := context.WithCancel(context.Background())
	return &lookbackRing{
		lb: lb, cfg: c, geo: geo, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), tried: make(chan struct{}),
		q: make([]afpacket.Block, geo.blocks), got: make([]afpacket.Block, 0, geo.blocks),
	}
}

// start runs the owner goroutine.
func (r *lookbackRing) start() { go r.run() }

// stop ends the owner goroutine and waits for it: the ring is closed and
// its memory given back; requests waiting for it get an error.
func (r *lookbackRing) stop() {
	r.cancel()
	<-r.done
}

// errRingClosed is the error of a request whose ring closed before it
// was served.
var errRingClosed = errors.New("the look-back ring was closed")

// run opens the ring and keeps it until the ring is stopped, reopening it
// whenever its interface comes back.
func (r *lookbackRing) run() {
	defer close(r.done)
	defer r.exit()
	log := r.lb.log.With("interface", r.cfg.Interface)
	down := false
	for r.ctx.Err() == nil {
		c, err := r.openConn()
		if err != nil {
			r.setErr(err)
			r.once.Do(func() { close(r.tried) })
			if !down {
				log.Warn("look-back ring not open: tried again every few seconds", "error", err)
				down = true
			}
			r.failJobs(err)
			r.pause()
			continue
		}
		if down {
			log.Info("look-back ring reopened: its interface is back")
		} else {
			log.Info("look-back ring open", "ring_bytes", int64(r.geo.blocks)*int64(r.geo.blockSize),
				"blocks", r.geo.blocks, "block_size", r.geo.blockSize, "snaplen", r.cfg.Snaplen, "filter", r.cfg.Filter)
		}
		down = false
		r.setErr(nil)
		r.open.Store(true)
		r.once.Do(func() { close(r.tried) })
		err = r.follow(c)
		r.open.Store(false)
		_ = c.Free()
		r.reset()
		if r.ctx.Err() != nil {
			return
		}
		r.setErr(err)
		log.Warn("look-back ring closed: its interface went down or away; reopened when it is back", "error", err)
		down = true
		r.failJobs(err)
		r.pause()
	}
}

// exit marks the owner gone and fails the jobs still waiting.
func (r *lookbackRing) exit() {
	r.once.Do(func() { close(r.tried) })
	r.mu.Lock()
	r.exited = true
	r.mu.Unlock()
	r.failJobs(errRingClosed)
}

// openConn opens the ring's socket, the filter compiled for the interface
// as it is now.
func (r *lookbackRing) openConn() (lookbackConn, error) {
	if !r.lb.present(r.cfg.Interface) {
		return nil, fmt.Errorf("interface %s is absent or down", r.cfg.Interface)
	}
	prog, err := r.lb.program(r.cfg)
	if err != nil {
		return nil, err
	}
	return r.lb.open(r.cfg.Interface, afpacket.Config{
		Snaplen: r.cfg.Snaplen, Promiscuous: r.lb.promisc, Filter: prog,
		BlockSize: r.geo.blockSize, NumBlocks: r.geo.blocks, BlockTimeout: lookbackTimeout,
		KeepOnly: true,
	})
}

// pause waits for the poll interval, or until the ring is stopped.
func (r *lookbackRing) pause() {
	t := time.NewTimer(r.lb.poll)
	defer t.Stop()
	select {
	case <-r.ctx.Done():
	case <-t.C:
	}
}

// follow keeps the ring open until the interface goes (Keep's error) or
// the ring is stopped.
func (r *lookbackRing) follow(c lookbackConn) error {
	var (
		rate    float64 // blocks per second, following a rise at once and a fall slowly
		prevAt  = time.Now()
		prevCnt = r.taken
		timer   *time.Timer // when Wait fails (no timerfd): a Go timer
	)
	for {
		r.wakes.Add(1)
		err := r.take(c)
		if st, serr := c.Stats(); serr == nil {
			r.drops.Store(st.Drops)
		}
		r.trim(c)
		r.serveReady(c, err != nil)
		r.publish()
		if err != nil {
			return err
		}
		if err := r.keepErr; err != nil { // the interface went during a copy
			r.keepErr = nil
			return err
		}
		t := time.Now()
		if dt := t.Sub(prevAt).Seconds(); dt > 0 {
			cur := float64(r.taken-prevCnt) / dt
			rate = max(cur, 0.75*rate+0.25*cur)
		}
		prevAt, prevCnt = t, r.taken
		wait := maxLookbackWake
		if rate > 0 {
			// Half the margin's blocks at the rate they come in.
			wait = min(wait, time.Duration(float64(lookbackMargin(r.geo.blocks))/2/rate*float64(time.Second)))
		}
		wait = max(wait, minLookbackWake)

		wctx, cancel := context.WithCancel(r.ctx)
		r.mu.Lock()
		pending := len(r.jobs) > 0
		if !pending {
			r.wake = cancel
		}
		r.mu.Unlock()
		if pending {
			wait = lookbackJobPoll
		}
		if timer == nil {
			if werr := c.Wait(wctx, wait); werr != nil && wctx.Err() == nil {
				timer = time.NewTimer(wait)
				defer timer.Stop()
			}
		}
		if timer != nil {
			timer.Reset(wait)
			select {
			case <-wctx.Done():
			case <-timer.C:
			}
		}
		r.mu.Lock()
		r.wake = nil
		r.mu.Unlock()
		cancel()
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
	}
}

// at returns the i-th kept block from the oldest.
func (r *lookbackRing) at(i int) *afpacket.Block {
	j := r.head + i
	if j >= len(r.q) {
		j -= len(r.q)
	}
	return &r.q[j]
}

// take keeps the blocks the kernel handed over since the last look.
func (r *lookbackRing) take(c lookbackConn) error {
	got, err := c.Keep(r.got[:0])
	for _, b := range got {
		if r.n == len(r.q) { // cannot happen: Keep keeps at most the ring's blocks
			break
		}
		*r.at(r.n) = b
		r.n++
		r.taken++
	}
	return err
}

// trim gives the oldest blocks back until at most geo.held are kept, and
// returns how many it gave back.
func (r *lookbackRing) trim(c lookbackConn) int {
	k := r.n - r.geo.held
	if k <= 0 {
		return 0
	}
	c.Release(k)
	for range k {
		*r.at(0) = afpacket.Block{}
		r.head++
		if r.head == len(r.q) {
			r.head = 0
		}
		r.n--
	}
	return k
}

// publish updates what Status reports from the kept blocks' descriptors.
func (r *lookbackRing) publish() {
	var bytes, packets, oldest, newest int64
	for i := range r.n {
		b := r.at(i)
		bytes += int64(b.Len)
		packets += int64(b.Packets)
		if b.Packets > 0 {
			if oldest == 0 || b.First < oldest {
				oldest = b.First
			}
			newest = max(newest, b.Last)
		}
	}
	r.bytes.Store(bytes)
	r.packets.Store(packets)
	r.oldest.Store(oldest)
	r.newest.Store(newest)
}

// oldestFrame returns the time of the oldest frame the ring holds (0:
// none).
func (r *lookbackRing) oldestFrame() int64 {
	for i := range r.n {
		if b := r.at(i); b.Packets > 0 {
			return b.First
		}
	}
	return 0
}

// reset forgets the blocks of a ring that was closed.
func (r *lookbackRing) reset() {
	clear(r.q)
	r.head, r.n = 0, 0
	r.keepErr = nil
	r.bytes.Store(0)
	r.packets.Store(0)
	r.oldest.Store(0)
	r.newest.Store(0)
}

func (r *lookbackRing) setErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.lastErr = ""
	if err != nil {
		r.lastErr = err.Error()
	}
}

// status is Status of this ring.
func (r *lookbackRing) status() LookbackStatus {
	st := LookbackStatus{
		Interface: r.cfg.Interface, Open: r.open.Load(),
		RingBytes: int64(r.geo.blocks) * int64(r.geo.blockSize),
		Bytes:     r.bytes.Load(), Packets: r.packets.Load(), Drops: r.drops.Load(),
	}
	if ns := r.oldest.Load(); ns != 0 {
		st.Oldest = time.Unix(0, ns)
	}
	if ns := r.newest.Load(); ns != 0 {
		st.Newest = time.Unix(0, ns)
	}
	r.errMu.Lock()
	st.Error = r.lastErr
	r.errMu.Unlock()
	return st
}
