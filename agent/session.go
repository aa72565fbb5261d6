package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// ringBlockSize is the receive ring's block size; Config.RingBytes sets how
// many blocks a handle gets.
const ringBlockSize = 1 << 20

// session is one interface capture of a request.
type session struct {
	a       *Agent
	log     *slog.Logger
	p       *plan
	cp      capturePlan
	id      string
	node    string
	promisc bool
	ring    int64
	// blockTimeout is the ring's block retire timeout (0: afpacket's default).
	blockTimeout time.Duration

	// onPacket, when set, sees every frame written to the file (cut to
	// the snap length); its data is valid only during the call.
	onPacket func(ts int64, data []byte, wire int)

	// copying keeps the session on the copying path (tests compare it
	// with the ring path).
	copying bool

	// group, when set, makes the session interface ifID of a merged
	// capture (merge.go): it writes bare EPBs, and the group's limits
	// replace the plan's packet and byte limits.
	group *mergeGroup
	ifID  uint32

	// live, when set, receives the counters while the capture runs
	// (live.go); the loop publishes them.
	live *liveCounters

	// seam: the copying loop leaves out the frames stamped before it,
	// which the look-back part holds (lookback_session.go); 0: none.
	seam int64

	// Filled in by capture.
	filter   *bpfcompile.VM // user-space filter when the kernel refused the program
	linkType uint32
	snaplen  int
}

// fileWriter writes one capture file (pcap or pcapng) into a buffer:
// capfile's PcapWriter and PcapngWriter.
type fileWriter interface {
	// Packet appends one frame: its timestamp (ns since the epoch), its
	// bytes (cut to the snap length by the writer) and its length on the
	// wire. It neither allocates nor copies the frame more than once.
	Packet(ts int64, data []byte, wire int)
	// Finish appends what follows the last frame (pcapng statistics).
	Finish(st capfile.Stats)
}

// outcome is what a capture session produced.
type outcome struct {
	buf     *capfile.Buffer // the copying path's file; nil on the ring path or when the socket never opened
	file    *capfile.File   // the ring path's file
	res     Result
	snaplen int
	err     error // why res.Status is StatusError

	// The kernel's counters at the end (PACKET_STATISTICS), valid when
	// statsKnown.
	stats      afpacket.Stats
	statsKnown bool

	// settle, when set, waits until file is whole and fills in o.res's
	// counts and status (see wait). It is given the outcome, which is
	// passed around by value.
	settle func(o *outcome)
}

// wait waits until the file is whole and res holds its counts and status:
// on the ring path the file is still being put together when capture
// returns.
func (o *outcome) wait() {
	if settle := o.settle; settle != nil {
		o.settle = nil
		settle(o)
	}
}

// setStatus sets the result's status from the capture's error (rerr, nil
// when it ended well) and its packet count.
func (out *outcome) setStatus(rerr error) {
	switch {
	case rerr != nil:
		out.res.Status = StatusError
		out.res.Error = rerr.Error()
		out.err = rerr
	case out.res.Packets == 0:
		out.res.Status = StatusEmpty
	default:
		out.res.Status = StatusOK
	}
}

// capturedFile is a capture file held in memory: a capfile.Buffer or a
// capfile.File.
type capturedFile interface {
	Len() int64
	Data() *capfile.Data
	Release()
	Detach() *capfile.Data
}

// captured returns the file the session produced, or nil when its socket
// never opened.
func (o *outcome) captured() capturedFile {
	switch {
	case o.file != nil:
		return o.file
	case o.buf != nil:
		return o.buf
	}
	return nil
}

// runCapture runs one interface capture of r, delivers it and records its
// Result. It runs in its own goroutine.
func (a *Agent) runCapture(r *request, cp capturePlan) {
	defer a.wg.Done()
	a.mu.Lock()
	cfg := a.cfg
	sinks := a.sinks
	a.mu.Unlock()
	if r.plan.req.Merge && len(r.plan.captures) > 1 {
		// One goroutine runs the whole merged capture; the others hand
		// their place over to it.
		if cp.iface == r.plan.captures[0].iface {
			a.runMerged(r, cfg, sinks)
		}
		return
	}
	s := &session{
		a: a, p: r.plan, cp: cp, id: r.id, node: cfg.Hostname,
		promisc: cfg.Promiscuous, ring: r.plan.ring, blockTimeout: cfg.BlockTimeout,
		log: a.log.With("id", r.id, "interface", cp.iface), live: r.liveOf(cp.iface),
	}
	out := s.capture(r.ctx, func() { a.markRunning(r) })
	out.wait()
	res := out.res
	var spooled string
	if f := out.captured(); f != nil {
		if res.Packets > 0 {
			c := &Capture{
				Request:   s.p.req,
				ID:        r.id,
				Node:      s.node,
				Interface: cp.iface,
				Alias:     cp.alias,
				Format:    s.p.format,
				Snaplen:   out.snaplen,
				Started:   res.Started,
				Ended:     res.Ended,
				Tags:      Tags(&s.p.req, cp.alias, s.node, cp.iface, out.snaplen),
				FileName:  FileName(s.node, cp.iface, res.Started, r.id, s.p.format),
				Packets:   res.Packets,
				Data:      f.Data(),
			}
			spooled = a.deliver(s.log, c, sinks, &res)
		}
		f.Release()
	}
	a.finish(r, res, spooled)
}

// markRunning moves r from pending to running once a socket is armed.
func (a *Agent) markRunning(r *request) {
	a.mu.Lock()
	if r.phase == PhasePending {
		r.phase = PhaseRunning
	}
	a.mu.Unlock()
}

// finish records the Result of one interface capture of r, releases its
// admission and queues the Result for the publishers; the last one of r
// takes r out of the journal once published. spooled is the spool's
// location of the capture when res's error is that the spool took it over.
func (a *Agent) finish(r *request, res Result, spooled string) {
	echo(&res, &r.plan.req)
	a.mu.Lock()
	for _, d := range r.early {
		if applyRedelivery(&res, spooled, &d) && len(d.Pending) == 0 {
			spooled = ""
		}
	}
	r.results = append(r.results, res)
	r.spooled = append(r.spooled, spooled)
	a.count.capture(&res)
	r.remaining--
	a.active--
	a.memUsed -= r.plan.reserve
	var after func()
	if r.remaining == 0 {
		r.phase = PhaseDone
		r.cancel(nil) // release the context
		a.store.finished(r)
		after = a.forgetAfter(r)
	}
	a.mu.Unlock()
	a.log.Info("capture finished", "id", res.ID, "interface", res.Interface, "status", res.Status,
		"stop_reason", res.StopReason, "packets", res.Packets, "bytes", res.Bytes,
		"kernel_drops", res.KernelDrops, "locations", res.Locations, "error", res.Error)
	a.enqueueThen(res, after)
}

// capture opens the handle, reads until a stop control fires and returns
// the buffer and the Result so far. armed is called once the socket is open
// with its filter attached, when s.linkType and s.snaplen are known.
func (s *session) capture(ctx context.Context, armed func()) outcome {
	clock := s.a.clock
	out := outcome{res: Result{ID: s.id, Node: s.node, Interface: s.cp.iface, Locations: []string{}}}
	h, err := s.openHandle()
	if err != nil {
		now := clock.Now()
		out.res.Started, out.res.Ended = now, now
		out.res.Status = StatusError
		out.res.Error = err.Error()
		out.err = err
		s.log.Error("capture failed to start", "error", err)
		return out
	}
	// The ring path's file holds the ring: its release closes the handle
	// (afpacket.Conn.Free).
	ringPath := false
	defer func() {
		if !ringPath {
			h.Close()
		}
	}()
	s.linkType, s.snaplen = h.LinkType(), h.Snaplen()
	if s.snaplen <= 0 || s.snaplen > s.p.snaplen {
		s.snaplen = s.p.snaplen
	}
	armed()
	if s.linkType != s.cp.linkType {
		s.log.Warn("handle's link type differs from the one the filter was compiled for",
			"handle", s.linkType, "compiled", s.cp.linkType)
	}
	if k, ok := s.ringOK(h); ok {
		started := clock.Now()
		s.live.start(started, h.Stats)
		ringPath = true
		out.res.Started, out.snaplen = started, s.snaplen
		s.log.Info("capture started", "link_type", s.linkType, "snaplen", s.snaplen, "user_filter", false, "ring_blocks", k.Blocks())
		s.captureRing(ctx, h, k, started, &out)
		return out
	}
	buf := capfile.NewBuffer(s.a.pool)
	var w fileWriter
	switch {
	case s.group != nil:
		w = capfile.NewEPBWriter(buf, s.snaplen, s.ifID)
	case s.p.format == FormatPcapNG:
		w = capfile.NewPcapngWriter(buf, s.linkType, s.snaplen, s.cp.iface)
	default:
		w = capfile.NewPcapWriter(buf, s.linkType, s.snaplen)
	}
	started := clock.Now()
	s.live.start(started, h.Stats)
	out.res.Started, out.snaplen, out.buf = started, s.snaplen, buf
	s.log.Info("capture started", "link_type", s.linkType, "snaplen", s.snaplen, "user_filter", s.filter != nil)

	lb := s.copyingLookback(started, w, buf)
	out.res.Packets = uint64(lb.frames)
	reason, rerr := lb.reached, error(nil)
	if reason == "" {
		reason, rerr = s.loop(ctx, h, w, buf, started, &out.res.Packets)
	}
	lb.report(s.p, &out.res)
	out.res.Ended = clock.Now()
	out.res.StopReason = reason
	st, serr := h.Stats()
	if serr != nil {
		s.log.Warn("reading the kernel's counters failed", "error", serr)
	}
	out.res.KernelDrops = st.Drops
	out.stats, out.statsKnown = st, serr == nil
	switch {
	case s.group == nil:
		w.Finish(capfile.Stats{
			Start: started, End: out.res.Ended, Received: st.Packets, Drops: st.Drops,
			Delivered: out.res.Packets, KernelKnown: serr == nil,
		})
	case rerr == nil:
		// What ended this interface ends them all, and they all report
		// the group's reason.
		s.group.stop(reason)
		reason = s.group.stopped()
		out.res.StopReason = reason
	}
	out.res.Bytes = uint64(buf.Len())
	out.setStatus(rerr)
	return out
}

// loop reads frames into w until a stop control fires. It returns why it
// stopped, or the read error that ended it.
//
// Per frame it reads no clock: a frame's time is its kernel timestamp
// (CLOCK_REALTIME at receive, as the clock's wall time), which restarts the
// inactivity timeout and is checked against the duration limit; the Clock
// is read only when a wait ends without a frame, or to confirm that a frame
// stamped past the duration limit really is (a step of the wall clock).
// time.Now costs as much as the rest of the per-frame work on some VMs.
func (s *session) loop(ctx context.Context, h Handle, w fileWriter, buf *capfile.Buffer, started time.Time, count *uint64) (StopReason, error) {
	clock := s.a.clock
	durEnd := started.Add(s.p.duration)
	durEndNs := durEnd.UnixNano()
	timeoutNs := int64(s.p.timeout)
	lastNs := started.UnixNano() // time of the last frame, ns since the epoch
	// idleEnd is when the inactivity timeout fires; durEnd when it would
	// come later.
	idleEnd := func() (time.Time, bool) {
		if timeoutNs >= durEndNs-lastNs {
			return durEnd, false
		}
		return time.Unix(0, lastNs+timeoutNs), true
	}
	maxPackets, maxBytes := uint64(s.p.packets), s.p.bytes
	g := s.group
	if g != nil {
		// The group's limits count the merged file (mergeGroup.take);
		// these bound this interface's share of it, which the buffer
		// (without the file's header) never needs to pass, also while the
		// group drains after a stop: that keeps it within the memory
		// admission reserved for this capture.
		maxBytes -= g.header
	}
	var meta bpfcompile.Meta
	var debug *packetLog
	if s.p.debug {
		debug = &packetLog{log: s.log, linkType: s.linkType}
		defer debug.finish()
	}
	read := nextFunc(h)
	// A stop that is not a limit drains the ring first: the socket queues
	// no more frames, and the frames already in the ring are read, the
	// block the kernel was filling included (see stopDrain).
	var draining StopReason
	stop := func(reason StopReason) (StopReason, bool) {
		if draining != "" || !s.stopDrain(h) {
			return reason, true
		}
		draining = reason
		return "", false
	}
	for {
		if g != nil { // the inactivity timeout waits for every interface
			lastNs = max(lastNs, g.last.Load())
		}
		rctx, deadline := ctx, time.Time{}
		if draining == "" {
			deadline, _ = idleEnd()
			deadline = s.live.wakeBy(deadline, lastNs, *count)
		} else {
			rctx = context.Background() // ErrStopped ends the drain
		}
		pkt, err := read(rctx, deadline)
		if err != nil {
			switch {
			case draining != "":
				if errors.Is(err, afpacket.ErrStopped) {
					return draining, nil
				}
				return draining, fmt.Errorf("reading from %s after the stop: %w", s.cp.iface, err)
			case ctx.Err() != nil:
				if r, done := stop(s.ctxReason(ctx)); done {
					return r, nil
				}
				continue
			case errors.Is(err, os.ErrDeadlineExceeded):
				now := clock.Now()
				s.live.set(*count, uint64(buf.Len()), now.UnixNano())
				reason := StopReason("")
				if !now.Before(durEnd) {
					reason = StopDuration
				} else if idle, ok := idleEnd(); ok && !now.Before(idle) {
					reason = StopTimeout
				}
				if reason == "" {
					continue // woken early; wait on
				}
				if r, done := stop(reason); done {
					return r, nil
				}
				continue
			}
			return "", fmt.Errorf("reading from %s: %w", s.cp.iface, err)
		}
		if pkt.Timestamp < s.seam {
			continue // the look-back part holds it
		}
		if draining == StopDuration && pkt.Timestamp >= durEndNs {
			return draining, nil // after the end: so are the frames behind it
		}
		if s.filter != nil {
			meta = bpfcompile.Meta{
				Protocol: pkt.Protocol, PktType: pkt.PacketType, IfIndex: uint32(pkt.IfIndex),
				VLANPresent: pkt.VLANPresent, VLANTCI: pkt.VLANTCI, VLANTPID: pkt.VLANTPID,
			}
			keep := s.filter.Run(pkt.Data, pkt.Length, &meta)
			if keep == 0 {
				continue
			}
			if int(keep) < len(pkt.Data) {
				pkt.Data = pkt.Data[:keep]
			}
		}
		if pkt.Timestamp >= durEndNs && !clock.Now().Before(durEnd) {
			// After the duration's end, as are the frames behind it: not
			// in the file (the ring path trims it too).
			return StopDuration, nil
		}
		var reached StopReason
		if g != nil {
			var ok bool
			if reached, ok = g.take(pkt.Timestamp, min(len(pkt.Data), s.snaplen)); !ok {
				return g.stopped(), nil // newer than the group's stop
			}
		}
		w.Packet(pkt.Timestamp, pkt.Data, pkt.Length)
		*count++
		lastNs = max(lastNs, pkt.Timestamp)
		if debug != nil {
			debug.frame(pkt.Timestamp, pkt.Data[:min(len(pkt.Data), s.snaplen)], pkt.Length)
		}
		if s.onPacket != nil {
			s.onPacket(pkt.Timestamp, pkt.Data[:min(len(pkt.Data), s.snaplen)], pkt.Length)
		}
		if reached != "" {
			g.stop(reached) // and read on: others may hold older frames
		}
		// The byte limit counts the file's bytes, headers included, and is
		// checked after the frame that crosses it is written (the seed:
		// "if the previous packet pushed us over the limit").
		switch {
		case *count >= maxPackets:
			return StopPackets, nil
		case buf.Len() >= maxBytes:
			return StopBytes, nil
		}
		// A busy ring keeps returning frames after ctx ends (afpacket looks
		// at ctx between blocks); look now and then so Cancel and Shutdown
		// act promptly. The live counters are published at the same pace.
		if *count%64 == 0 {
			s.live.set(*count, uint64(buf.Len()), pkt.Timestamp)
			if draining == "" && ctx.Err() != nil {
				if r, done := stop(s.ctxReason(ctx)); done {
					return r, nil
				}
			}
		}
	}
}

// stopDrain has h queue no more frames (afpacket.Conn.Stop) so that the
// loop can read the frames already in its ring: when a capture is
// cancelled, or its duration or inactivity timeout ends, the block the
// kernel was filling holds frames that came before, which its retire
// timer hands over within two block timeouts. It reports false when h
// cannot stop (a test's handle) or stopping failed: then the capture
// ends at once, as it did.
func (s *session) stopDrain(h Handle) bool {
	st, ok := h.(interface{ Stop() error })
	if !ok {
		return false
	}
	if err := st.Stop(); err != nil {
		s.log.Warn("stopping the socket failed: frames the kernel had not handed over are not in the file", "error", err)
		return false
	}
	return true
}

// packetNexter is a Handle that lends out its frames without copying them
// (*afpacket.Conn's Next).
type packetNexter interface {
	Next(ctx context.Context, deadline time.Time) (*afpacket.Packet, error)
}

// nextFunc returns h's frame reader: Next where h has it, else ReadPacket
// into a Packet of the session's own.
func nextFunc(h Handle) func(context.Context, time.Time) (*afpacket.Packet, error) {
	if n, ok := h.(packetNexter); ok {
		return n.Next
	}
	var p afpacket.Packet
	return func(ctx context.Context, deadline time.Time) (*afpacket.Packet, error) {
		var err error
		p, err = h.ReadPacket(ctx, deadline)
		return &p, err
	}
}

// ctxReason tells a Cancel from a Shutdown by the context's cause.
func (s *session) ctxReason(ctx context.Context) StopReason {
	cause := context.Cause(ctx)
	if errors.Is(cause, errCancelled) {
		return StopCancelled
	}
	if r, ok := mergeReason(cause); ok {
		return r
	}
	return StopShutdown
}

// openHandle opens the capture handle with the kernel filter attached. When
// the kernel refuses the program (libpcap's protochain loops backwards), it
// reopens without a kernel filter and filters in user space.
func (s *session) openHandle() (Handle, error) {
	timeout := s.blockTimeout
	if s.ringLikely() {
		timeout = ringTimeout(timeout)
	}
	cfg := ringGeometry(s.ring, timeout)
	cfg.Snaplen, cfg.Promiscuous, cfg.Filter = s.p.snaplen, s.promisc, s.cp.raw
	h, err := s.a.open(s.cp.iface, cfg)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, afpacket.ErrFilterRejected) || s.cp.prog == nil {
		return nil, fmt.Errorf("opening %s: %w", s.cp.iface, err)
	}
	// The frames carry their VLAN tags inline (afpacket writes them back),
	// so the savefile flavour of the program reads them right; a filter
	// that only compiles live (inbound/outbound) runs the live program with
	// the metadata the ring gives.
	prog := s.cp.prog
	if off, cerr := s.a.compile(s.p.req.BPF, bpfcompile.Options{
		LinkType: bpfcompile.LinkType(s.cp.linkType), Snaplen: s.p.snaplen, Netmask: s.cp.netmask,
	}); cerr == nil && len(off) > 0 {
		prog = off
	}
	vm, verr := bpfcompile.NewVM(prog)
	if verr != nil {
		return nil, fmt.Errorf("opening %s: %w; and the user-space filter failed: %w", s.cp.iface, err, verr)
	}
	s.filter = vm
	s.log.Warn("the kernel refused the filter program: filtering in user space", "error", err)
	cfg.Filter = nil
	h, err = s.a.open(s.cp.iface, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening %s without a kernel filter: %w", s.cp.iface, err)
	}
	return h, nil
}
