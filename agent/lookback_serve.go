package agent

import (
	"fmt"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// This file copies a request's frames out of a look-back ring. The copy
// runs in the ring's owner goroutine, so that nothing else ever touches
// the ring, and it keeps the ring going while it copies: every few blocks
// it takes what the kernel handed over meanwhile and gives the oldest
// blocks back (those already copied first), as the owner does when it
// wakes. A request never holds the ring up.
//
// The seam. A request's own capture socket is armed first; its time (the
// clock read after bind(2)) is the seam. Every frame stamped at or after
// the seam reaches the new socket (it was stamped after the socket was
// hooked in), and every frame reaches the look-back ring, with the same
// stamp (SO_TIMESTAMPNS: one stamp per frame, whatever the socket). So the
// look-back part is the ring's frames stamped before the seam and the
// capture's own part its frames stamped at or after it (afpacket.Limits
// Start, or the copying loop's test): no frame twice, none missing. The
// few frames stamped just before the seam that reached the new socket too
// (in flight while it was armed) are the look-back part's.
//
// The frames stamped just before the seam are in the block the kernel is
// filling when the request comes: the copy waits until that block is
// handed over (at most about two block timeouts), or until the kernel is
// filling nothing a moment after the seam.

// Times of the seam.
const (
	// lookbackInFlight is how long after its stamp a frame may still be
	// on its way into the rings: a ring that is filling no block this
	// long after the seam holds every frame stamped before it.
	lookbackInFlight = 2 * time.Millisecond
	// lookbackSeamWait bounds the wait for the block the kernel was
	// filling at the seam: the retire timer hands it over within two
	// block timeouts.
	lookbackSeamWait = 2*lookbackTimeout + 50*time.Millisecond
	// lookbackReorder is how far past the seam a block may begin and
	// still hold a frame stamped before it (frames of several CPUs reach
	// a ring in about the order of their stamps).
	lookbackReorder = 10 * time.Millisecond
	// lookbackCopyLook is how many blocks the copy walks between two
	// looks at the ring.
	lookbackCopyLook = 16
)

// lookbackJob is one request's copy out of a ring.
type lookbackJob struct {
	seam     int64  // frames stamped at or after seam are the capture's own (ns since the epoch)
	from     int64  // frames stamped before from are not wanted
	linkType uint32 // the capture's link type: the ring's must be the same
	// vm, when set, is the request's filter, compiled for frames as
	// afpacket.Conn.Walk yields them (VLAN tags in place).
	vm *bpfcompile.VM
	// put takes one frame (its data is valid only during the call); it
	// reports false to stop the copy (a limit reached).
	put  func(ts int64, data []byte, wire int) bool
	done chan lookbackPart

	// The owner's first look at the job, and what it found.
	looked   bool
	takenAt  uint64
	deadline time.Time
	settled  bool // the block filling at the seam was handed over
}

// lookbackPart is how a job went.
type lookbackPart struct {
	oldest  int64 // the time of the oldest frame the ring held (0: none)
	skipped int   // blocks of the window given back before they were copied
	late    bool  // copied before the block filling at the seam was handed over
	err     error // no copy: the ring is not open, or of another link type
}

// fetch has the ring on ifname copy j's frames, and returns when it has.
// The copy is bounded: it waits at most lookbackSeamWait for its seam and
// walks the ring once.
func (lb *Lookback) fetch(ifname string, j *lookbackJob) lookbackPart {
	r := lb.ring(ifname)
	if r == nil {
		return lookbackPart{err: fmt.Errorf("no look-back ring on %s", ifname)}
	}
	j.done = make(chan lookbackPart, 1)
	r.mu.Lock()
	if r.exited || !r.open.Load() {
		r.mu.Unlock()
		r.errMu.Lock()
		why := r.lastErr
		r.errMu.Unlock()
		if why == "" {
			why = "not open"
		}
		return lookbackPart{err: fmt.Errorf("the look-back ring on %s holds nothing: %s", ifname, why)}
	}
	r.jobs = append(r.jobs, j)
	if r.wake != nil {
		r.wake()
	}
	r.mu.Unlock()
	return <-j.done
}

// failJobs ends every waiting job with err.
func (r *lookbackRing) failJobs(err error) {
	r.mu.Lock()
	jobs := r.jobs
	r.jobs = nil
	r.mu.Unlock()
	for _, j := range jobs {
		j.done <- lookbackPart{err: err}
	}
}

// serveReady copies the frames of the jobs whose seam block is in (all
// of them with force: the ring is closing).
func (r *lookbackRing) serveReady(c lookbackConn, force bool) {
	r.mu.Lock()
	jobs := append([]*lookbackJob(nil), r.jobs...)
	r.mu.Unlock()
	for _, j := range jobs {
		if !r.ready(c, j) && !force {
			continue
		}
		part := r.serve(c, j)
		r.mu.Lock()
		for i, o := range r.jobs {
			if o == j {
				r.jobs = append(r.jobs[:i], r.jobs[i+1:]...)
				break
			}
		}
		r.mu.Unlock()
		j.done <- part
	}
}

// ready reports whether the ring holds every frame stamped before j's
// seam: a block was handed over since the owner first looked at the job
// (the first look came after the seam), the newest block kept ends at or
// after the seam, or the kernel fills no block a moment after the seam.
// After lookbackSeamWait it gives up waiting.
func (r *lookbackRing) ready(c lookbackConn, j *lookbackJob) bool {
	if !j.looked {
		j.looked, j.takenAt, j.deadline = true, r.taken, time.Now().Add(lookbackSeamWait)
	}
	switch {
	case r.taken > j.takenAt:
	case r.n > 0 && r.at(r.n-1).Packets > 0 && r.at(r.n-1).Last >= j.seam:
	case c.Filling() == 0 && r.lb.clock.Now().UnixNano() >= j.seam+int64(lookbackInFlight):
	default:
		return !time.Now().Before(j.deadline)
	}
	j.settled = true
	return true
}

// serve walks the kept blocks that may hold frames of j's window, oldest
// first, and hands each frame of the window that j's filter keeps to
// j.put. Every lookbackCopyLook blocks it keeps the ring going (see the
// file comment): should the kernel need blocks not copied yet, they go,
// and the part begins later (skipped).
func (r *lookbackRing) serve(c lookbackConn, j *lookbackJob) lookbackPart {
	part := lookbackPart{oldest: r.oldestFrame(), late: !j.settled}
	if lt := c.LinkType(); lt != j.linkType {
		part.err = fmt.Errorf("the look-back ring's link type %d is not the capture's %d", lt, j.linkType)
		return part
	}
	i := 0
	for i < r.n && (r.at(i).Packets == 0 || r.at(i).Last < j.from) {
		i++
	}
	var meta bpfcompile.Meta
	stopped := false
	visit := func(p *afpacket.Packet) bool {
		if p.Timestamp < j.from || p.Timestamp >= j.seam {
			return true
		}
		data := p.Data
		if j.vm != nil {
			meta = bpfcompile.Meta{
				Protocol: p.Protocol, PktType: p.PacketType, IfIndex: uint32(p.IfIndex),
				VLANPresent: p.VLANPresent, VLANTCI: p.VLANTCI, VLANTPID: p.VLANTPID,
			}
			keep := j.vm.Run(data, p.Length, &meta)
			if keep == 0 {
				return true
			}
			if int(keep) < len(data) {
				data = data[:keep]
			}
		}
		if !j.put(p.Timestamp, data, p.Length) {
			stopped = true
			return false
		}
		return true
	}
	walked := 0
	for ; i < r.n && !stopped; i++ {
		b := *r.at(i)
		if b.Packets > 0 && b.First >= j.seam+int64(lookbackReorder) {
			break
		}
		c.Walk(b, visit)
		if walked++; walked%lookbackCopyLook == 0 {
			if r.keepErr == nil {
				r.keepErr = r.take(c)
			}
			// Blocks 0..i are copied; the oldest k go back.
			if k := r.trim(c); k > i+1 {
				part.skipped += k - i - 1
				i = -1
			} else {
				i -= k
			}
		}
	}
	return part
}
