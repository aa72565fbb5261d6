package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// A merged capture ("merge": true, or "pcapdaemon capture" with several
// interfaces) runs one session per interface, as any request does, but the
// sessions form a mergeGroup: the packet and byte limits count the one file
// they write together, and the first stop control that fires (or the
// inactivity of every interface) ends them all. When all have ended, their
// frames are merged into one pcapng file (capfile.MergeEPBs), delivered once;
// every interface still gets its own Result, naming the same file.
//
// The file holds the first frames in time, not the first ones a session
// happened to read: the rings hand frames over block by block, so when one
// session reaches a limit, another may not have read older frames yet.
// The limit therefore stops the group at the newest timestamp seen so far
// (stopTs); each session then keeps reading until it meets a frame newer
// than that, or for a drain period of a few block timeouts, and the merge
// cuts the file at the limit in timestamp order.
//
// Only merged sessions pay for the group's atomics: a session without a
// group runs the loop as before.

// mergeGroup holds the stop controls that the sessions of a merged capture
// share.
type mergeGroup struct {
	maxPackets uint64
	maxBytes   int64
	header     int64         // the file's bytes before the first EPB
	drain      time.Duration // how long sessions read on after a stop

	packets atomic.Uint64 // frames written
	bytes   atomic.Int64  // the file's bytes: header and EPBs written
	last    atomic.Int64  // newest frame timestamp of any interface, ns
	stopTs  atomic.Int64  // last at the stop
	done    atomic.Bool   // a stop control fired (stopTs is set)

	mu     sync.Mutex
	reason StopReason
	timer  *time.Timer             // ends the drain
	cancel context.CancelCauseFunc // ends the sessions' context
}

// mergeStop is the cause with which a group ends its sessions' context.
type mergeStop struct{ reason StopReason }

func (e *mergeStop) Error() string { return "merged capture stopped: " + string(e.reason) }

// newMergeGroup returns the group of a merged capture of p whose file
// starts with header bytes and whose rings retire blocks after
// blockTimeout (0: afpacket's default); cancel ends the sessions' context.
func newMergeGroup(p *plan, header int64, started time.Time, blockTimeout time.Duration, cancel context.CancelCauseFunc) *mergeGroup {
	if blockTimeout <= 0 {
		blockTimeout = afpacket.DefaultBlockTimeout
	}
	g := &mergeGroup{
		maxPackets: uint64(p.packets), maxBytes: p.bytes, header: header,
		drain: 2*blockTimeout + 10*time.Millisecond, cancel: cancel,
	}
	g.bytes.Store(header)
	g.last.Store(started.UnixNano())
	return g
}

// take decides about one frame with timestamp ts and n bytes (after the
// snap length). Before the group stops, every frame is written and reached
// is the limit it reaches, if any (the caller then calls stop). After the
// stop, a frame newer than the newest one before it is not written: ok is
// false, and the session is done.
func (g *mergeGroup) take(ts int64, n int) (reached StopReason, ok bool) {
	if g.done.Load() {
		return "", ts <= g.stopTs.Load()
	}
	// The timestamp is recorded before the frame is counted, so that the
	// stop's stopTs covers every frame counted before it.
	g.seen(ts)
	p := g.packets.Add(1)
	b := g.bytes.Add(capfile.EPBLen(n))
	switch {
	case p >= g.maxPackets:
		return StopPackets, true
	case b >= g.maxBytes:
		return StopBytes, true
	}
	return "", true
}

// seen records a frame's timestamp for the shared inactivity timeout.
func (g *mergeGroup) seen(ts int64) {
	for {
		cur := g.last.Load()
		if ts <= cur || g.last.CompareAndSwap(cur, ts) {
			return
		}
	}
}

// stop ends the group for reason (the first one wins): sessions read on
// until a frame newer than the newest so far, for at most g.drain.
func (g *mergeGroup) stop(reason StopReason) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reason != "" {
		return
	}
	g.reason = reason
	g.stopTs.Store(g.last.Load())
	g.done.Store(true)
	g.timer = time.AfterFunc(g.drain, func() { g.cancel(&mergeStop{reason}) })
}

// stopped returns the reason the group stopped for ("" while it runs).
func (g *mergeGroup) stopped() StopReason {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reason
}

// end stops the drain timer once every session has ended.
func (g *mergeGroup) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer != nil {
		g.timer.Stop()
	}
}

// mergeReason returns the stop reason carried by a group's cancellation.
func mergeReason(cause error) (StopReason, bool) {
	var ms *mergeStop
	if errors.As(cause, &ms) {
		return ms.reason, true
	}
	return "", false
}
