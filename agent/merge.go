package agent

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// A merged capture ("merge": true, or "pcapdaemon capture" with several
// interfaces) runs one session per interface, as any request does, but the
// sessions form a mergeGroup: the packet and byte limits count the one file
// they write together, and the first stop control that fires (or the
// inactivity of every interface) ends them all. When all have ended, their
// frames are merged into one pcapng file (merge_pcapng.go), delivered once;
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
	b := g.bytes.Add(epbLen(n))
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

// mergedFile is what captureMerged produced.
type mergedFile struct {
	outs    []outcome  // one per session, in order; res counts what is in the file
	buf     *buffer    // the pcapng file; nil when no session started
	packets uint64     // frames in the file
	err     error      // the merge failed (buf is nil then)
	reason  StopReason // the stop control that ended the group ("" if none did)
	// startErr is why the first session that could not start did not.
	startErr error
}

// captureMerged runs sessions (one per interface of p, in the order of
// p.captures, not yet started) as one merged capture until they have all
// ended, and merges their frames into one pcapng file. armed(i) is called
// when session i's socket is armed; visit, when set, sees every frame of
// the file in its order. A session that cannot start ends the others when
// strict is set; else they capture without it.
func (a *Agent) captureMerged(ctx context.Context, p *plan, sessions []*session, armed func(i int),
	visit func(i int, ts int64, data []byte, wire int), strict bool) mergedFile {
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	names := make([]string, len(sessions))
	for i, s := range sessions {
		names[i] = s.cp.iface
	}
	header := ngHeaderLen(names)
	g := newMergeGroup(p, header, a.clock.Now(), sessions[0].blockTimeout, cancel)
	m := mergedFile{outs: make([]outcome, len(sessions))}
	var wg sync.WaitGroup
	for i, s := range sessions {
		s.group, s.ifID = g, uint32(i)
		wg.Go(func() {
			m.outs[i] = s.capture(gctx, func() { armed(i) })
			if strict && m.outs[i].buf == nil {
				g.stop(StopShutdown)
				cancel(m.outs[i].err)
			}
		})
	}
	wg.Wait()
	g.end()
	m.reason = g.stopped()

	ifaces := make([]ngInterface, len(sessions))
	srcs := make([]*buffer, len(sessions))
	started := false
	for i, s := range sessions {
		o := &m.outs[i]
		ifaces[i] = ngInterface{name: names[i], linkType: s.cp.linkType, snaplen: p.snaplen}
		if o.buf == nil {
			if m.startErr == nil {
				m.startErr = o.err
			}
			continue
		}
		ifaces[i].linkType, ifaces[i].snaplen = s.linkType, o.snaplen
		srcs[i], started = o.buf, true
	}
	if !started {
		return m
	}
	buf := newBuffer(a.pool)
	writeNGHeader(buf, ifaces)
	counts, err := mergeEPBs(buf, srcs, mergeLimits{packets: uint64(p.packets), bytes: p.bytes, visit: visit})
	for i := range m.outs {
		m.outs[i].buf = nil // consumed by mergeEPBs
	}
	if err != nil {
		buf.release()
		m.err = err
		return m
	}
	for i := range sessions {
		o := &m.outs[i]
		if srcs[i] == nil {
			continue
		}
		// The Result counts what is in the file: the merge may have cut
		// frames read after the limit.
		o.res.Packets, o.res.Bytes = counts[i].packets, uint64(counts[i].bytes)
		if o.res.Status == StatusOK && o.res.Packets == 0 {
			o.res.Status = StatusEmpty
		}
		m.packets += o.res.Packets
		writeNGStats(buf, uint32(i), finishStats{
			start: o.res.Started, end: o.res.Ended, received: o.stats.Packets, drops: o.stats.Drops,
			delivered: o.res.Packets, statsKnown: o.statsKnown,
		})
	}
	m.buf = buf
	return m
}

// runMerged runs the merged capture of r on all its interfaces, delivers
// the file once and records one Result per interface. runCapture calls it
// for r's first interface; it holds that capture's place in a.wg.
func (a *Agent) runMerged(r *request, cfg Config, sinks []Sink) {
	p := r.plan
	sessions := make([]*session, len(p.captures))
	for i, cp := range p.captures {
		sessions[i] = &session{
			a: a, p: p, cp: cp, id: r.id, node: cfg.Hostname,
			promisc: cfg.Promiscuous, ring: cfg.RingBytes, blockTimeout: cfg.BlockTimeout,
			log: a.log.With("id", r.id, "interface", cp.iface),
		}
	}
	m := a.captureMerged(r.ctx, p, sessions, func(int) { a.markRunning(r) }, nil, false)
	results := make([]Result, len(m.outs))
	spooled := make([]string, len(m.outs)) // see finish
	for i, o := range m.outs {
		results[i] = o.res
	}
	label, alias := mergedNames(p)
	log := a.log.With("id", r.id, "interface", label)
	switch {
	case m.err != nil:
		log.Error("merging the interfaces' frames failed", "error", m.err)
		for i := range results {
			if results[i].Packets > 0 {
				results[i].Status, results[i].Error = StatusError, m.err.Error()
			}
		}
	case m.buf != nil && m.packets > 0:
		c := &Capture{
			Request:   p.req,
			ID:        r.id,
			Node:      cfg.Hostname,
			Interface: label,
			Alias:     alias,
			Format:    FormatPcapNG,
			Snaplen:   p.snaplen,
			Tags:      Tags(&p.req, alias, cfg.Hostname, label, p.snaplen),
			Packets:   m.packets,
			Data:      m.buf.data(),
		}
		for i, res := range results {
			if i == 0 || res.Started.Before(c.Started) {
				c.Started = res.Started
			}
			if res.Ended.After(c.Ended) {
				c.Ended = res.Ended
			}
		}
		c.FileName = mergedFileName(cfg.Hostname, label, alias, c.Started, r.id)
		var d Result
		loc := a.deliver(log, c, sinks, &d)
		for i := range results {
			if applyDelivery(&results[i], &d) {
				spooled[i] = loc
			}
		}
	}
	if m.buf != nil {
		m.buf.release()
	}
	for i, res := range results {
		a.finish(r, res, spooled[i])
	}
}

// applyDelivery copies the outcome of delivering the merged file into the
// Result of one of its interfaces: every interface names the file, and an
// interface whose frames are in it shares the delivery's failure. It
// reports whether res took the delivery's status and error.
func applyDelivery(res *Result, d *Result) bool {
	res.Locations = append(res.Locations, d.Locations...)
	if res.Packets == 0 || res.Status == StatusError {
		return false
	}
	if d.Status == StatusError {
		res.Status = StatusError
	}
	if d.Error != "" {
		res.Error = d.Error
	}
	return true
}

// maxMergedLabel bounds the interface part of a merged file's name.
const maxMergedLabel = 64

// mergedNames returns what a merged capture of p is called: label joins
// the interface names with "+" ("eth0+eth1", or "eth0+eth1+3more" when all
// the names would take more than maxMergedLabel bytes); alias is the alias
// the request named, when it named exactly one.
func mergedNames(p *plan) (label, alias string) {
	names := make([]string, len(p.captures))
	for i, cp := range p.captures {
		names[i] = cp.iface
	}
	label = strings.Join(names, "+")
	if len(label) > maxMergedLabel {
		k := 1 // names kept
		for ; k < len(names); k++ {
			more := "+" + strconv.Itoa(len(names)-k-1) + "more"
			if len(strings.Join(names[:k+1], "+"))+len(more) > maxMergedLabel {
				break
			}
		}
		label = strings.Join(names[:k], "+") + "+" + strconv.Itoa(len(names)-k) + "more"
	}
	if len(p.req.Alias) == 1 {
		alias = p.req.Alias[0]
	}
	return label, alias
}

// mergedFileName is the file name of a merged capture: FileName with the
// alias in place of the interface when the request named one alias that is
// a plain name (it is free text in a request), else with label (interface
// names hold no slash, so label always makes a valid file name).
func mergedFileName(host, label, alias string, started time.Time, id string) string {
	if alias != "" && plainName(alias) {
		label = alias
	}
	return FileName(host, label, started, id, FormatPcapNG)
}

// plainName reports whether s is made only of [A-Za-z0-9._+-] and does
// not start with a dot: safe in a file name and an S3 key.
func plainName(s string) bool {
	if s == "" || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}

// mergeReason returns the stop reason carried by a group's cancellation.
func mergeReason(cause error) (StopReason, bool) {
	var ms *mergeStop
	if errors.As(cause, &ms) {
		return ms.reason, true
	}
	return "", false
}
