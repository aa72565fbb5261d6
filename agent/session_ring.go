package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// This file is the ring path of a capture session: the capture keeps the
// blocks of its receive ring as its buffer (ringbuf.go) and looks at them
// on a timer, block by block, instead of reading every frame. The copying
// path (session.loop) remains for what needs every frame as it comes: a
// filter the kernel refused, a merged capture, per-packet logging and the
// frames shown as they arrive.

// Wake-ups of the ring loop. A keeping reader cannot wait in poll(2) (see
// afpacket.Conn.Keep) and its wake-ups are most of what it costs at small
// frames (some 80 µs of CPU each on a VM, where tcpdump, parked in poll,
// costs nothing while the link is quiet), so it wakes rarely: often
// enough that the kernel never runs out of free blocks between two looks
// (from the rate blocks came in at), at the inactivity timeout and the
// duration's end, and at most every maxRingWake, which bounds how late a
// packet or byte limit reached is noticed.
const (
	maxRingWake = 250 * time.Millisecond
	minRingWake = 5 * time.Millisecond
	// ringMargin is the time the free blocks must last at the rate
	// blocks come in at; a ring too small for that gives its blocks back
	// (their records kept elsewhere) nearly as soon as they are full.
	ringMargin = 150 * time.Millisecond
	// peakRingRate is the rate, in blocks per second, the loop assumes
	// traffic may burst at before it has seen it: 1 GB/s.
	peakRingRate = 1000
)

// ringOK reports whether the session can capture into h's ring: a handle
// that keeps blocks, and nothing that needs every frame as it comes.
func (s *session) ringOK(h Handle) (ringKeeper, bool) {
	k, ok := h.(ringKeeper)
	if !ok || s.filter != nil || !s.ringLikely() {
		return nil, false
	}
	return k, true
}

// ringLikely reports whether the session will capture on the ring path,
// unless the kernel refuses its filter.
func (s *session) ringLikely() bool {
	return !s.copying && s.group == nil && !s.p.debug && s.onPacket == nil
}

// minRingTimeout is the least block retire timeout of a ring the ring path
// keeps. A block the retire timer hands over as frames arrive on another
// CPU is a moment when the kernel checks, without its lock, whether the
// block a quarter of the ring ahead is free, and drops the frame when it
// is not (__packet_rcv_has_room: a kept ring is mostly not free): so the
// ring path lets blocks fill rather than retire early. At 300,000 frames
// of 64 bytes a second a 1 MiB block fills in 24 ms; a quiet link's frames
// wait up to this long, which only the stop controls notice, and they
// look at the block being filled (Filling).
const minRingTimeout = 50 * time.Millisecond

// ringTimeout returns the block timeout of a ring the ring path keeps.
func ringTimeout(configured time.Duration) time.Duration {
	return max(configured, minRingTimeout)
}

// captureRing runs the capture on the ring path from started until a stop
// control fires, and fills out with the file and the counts.
func (s *session) captureRing(ctx context.Context, h Handle, k ringKeeper, started time.Time, out *outcome) {
	header, rf, extra := ringLayout(s.p.format, s.linkType, s.snaplen, s.cp.iface)
	lim := afpacket.Limits{
		Frames: s.p.packets,
		// The byte limit counts the file, header included; the frame
		// that crosses it is kept, as on the copying path.
		Bytes: max(1, s.p.bytes-int64(len(header))),
		End:   started.Add(s.p.duration).UnixNano(),
	}
	lead, lb := s.ringLookback(started, int64(len(header)), &lim)
	rb := newRingBuffer(k, rf, extra, lim, s.a.pool)
	rb.lead = lead
	reason, drops, rerr := lb.reached, uint64(0), error(nil)
	if reason == "" {
		reason, drops, rerr = s.ringLoop(ctx, k, rb, started, int64(len(header)))
	}
	lb.report(s.p, &out.res)
	out.res.Ended = s.a.clock.Now()
	out.res.StopReason = reason
	// Nothing is written to the ring any more. The socket is closed when
	// the file is released (Free), after delivery: its close waits for an
	// RCU grace period, which the file need not wait for.
	stopErr := k.Stop()
	if stopErr == nil && rerr == nil && lb.reached == "" && rb.reached == afpacket.LimitNone {
		s.drainRing(k, rb)
	}
	st, serr := h.Stats()
	if serr != nil {
		s.log.Warn("reading the kernel's counters failed", "error", serr)
	}
	// The drops of the capture: up to the stop, not those of frames that
	// came after it while the socket was being closed (a full ring drops
	// them; the copying path, which stops at the frame that reaches a
	// limit, rarely sees any).
	st.Drops = min(st.Drops, drops)
	out.res.KernelDrops = st.Drops
	out.stats, out.statsKnown = st, serr == nil
	if stopErr != nil {
		_ = h.Close() // keeps the ring mapped all the same (a keeping reader's)
	}
	var trailer func(int64) []byte
	if s.p.format == FormatPcapNG {
		trailer = func(frames int64) []byte {
			return capfile.NGStats(0, capfile.Stats{
				Start: started, End: out.res.Ended, Received: st.Packets, Drops: st.Drops,
				Delivered: uint64(frames + lb.frames), KernelKnown: serr == nil,
			})
		}
	}
	if rb.spilled > 0 || rb.moved > 0 {
		s.log.Debug("ring ran short of free blocks", "moved_bytes", rb.moved, "spilled_bytes", rb.spilled)
	}
	// The file grows while its last blocks are compacted: a caller that
	// writes it out as it grows (CaptureOnce's Output) need not wait for
	// the counts, which settle gives.
	file, wait := rb.finishStream(header, trailer)
	out.file = file
	out.settle = func(o *outcome) {
		frames := wait()
		o.res.Packets = uint64(frames + lb.frames)
		o.res.Bytes = uint64(file.Len())
		o.setStatus(rerr)
	}
}

// drainRing takes the block the kernel was filling when the capture
// stopped (a cancel, the duration's end): its frames came before the
// stop, but the kernel hands a block over only when it is full or when
// its retire timer finds it has not changed for a block timeout. With no
// frame queued any more (Stop), that takes one or two block timeouts; the
// retire timer also waits for a frame the kernel is still copying in.
// The frames after the stop that block may hold are cut when the file is
// made (the duration's end), as on the copying path, or kept (a cancel:
// they came while the capture stopped).
func (s *session) drainRing(k ringKeeper, rb *ringBuffer) {
	timeout := ringTimeout(s.blockTimeout)
	deadline := time.Now().Add(2*timeout + drainSlack)
	for k.Filling() > 0 && time.Now().Before(deadline) {
		// A keeping reader cannot wait in poll(2) (see afpacket.Conn.Keep).
		if err := k.Wait(context.Background(), drainPoll); err != nil {
			return
		}
		if err := rb.take(); err != nil || rb.reached != afpacket.LimitNone {
			return
		}
	}
	if n := k.Filling(); n > 0 {
		s.log.Warn("the ring's last block was not handed over in time: its frames are not in the file", "frames", n)
	}
}

// How drainRing waits: it looks every drainPoll, for at most two block
// timeouts and drainSlack (a retire timer late on a loaded machine).
const (
	drainPoll  = 2 * time.Millisecond
	drainSlack = 100 * time.Millisecond
)

// ringLayout returns the file header and the record format of a file of
// format for frames of linkType cut to snaplen, captured on iface, and the
// most a record is longer than its frame's data in the ring.
func ringLayout(format string, linkType uint32, snaplen int, iface string) ([]byte, afpacket.RecordFormat, int) {
	var (
		header []byte
		cf     capfile.RecordFormat
	)
	if format == FormatPcapNG {
		header = capfile.NGHeader([]capfile.Interface{{Name: iface, LinkType: linkType, Snaplen: snaplen}})
		cf = capfile.EPBRecords(0)
	} else {
		header = capfile.PcapHeader(linkType, snaplen)
		cf = capfile.PcapRecords()
	}
	rf := afpacket.RecordFormat{Head: cf.Head, Align: cf.Align, Tail: cf.Tail, Snaplen: snaplen, Put: cf.Put}
	return header, rf, cf.Head + cf.Align - 1 + cf.Tail + cookedLen(linkType) + vlanTagLen
}

// vlanTagLen is the length of an 802.1Q tag that afpacket puts back.
const vlanTagLen = 4

// cookedLen is the length of the cooked header frames of linkType start
// with, built by afpacket from the ring's metadata.
func cookedLen(linkType uint32) int {
	switch linkType {
	case afpacket.LinkTypeLinuxSLL:
		return 16
	case afpacket.LinkTypeLinuxSLL2:
		return 20
	}
	return 0
}

// ringLoop keeps the ring's blocks until a stop control fires, waking on a
// timer. It returns why it stopped, or the error that ended it.
//
// Per wake-up it makes one getsockopt (Keep), reads each new block's
// descriptor and the clock: the packet and byte limits are counted from
// the descriptors (ringBuffer), the inactivity timeout from the newest
// block's last frame and the block the kernel fills, the duration from
// the clock.
func (s *session) ringLoop(ctx context.Context, k ringKeeper, rb *ringBuffer, started time.Time, header int64) (StopReason, uint64, error) {
	clock := s.a.clock
	durEnd := started.Add(s.p.duration)
	timeoutNs := int64(s.p.timeout)
	lastNs := started.UnixNano()
	blockTimeout := ringTimeout(s.blockTimeout)
	n := k.Blocks()
	const minFree = 2
	var timer *time.Timer // when Wait fails (no timerfd): a Go timer
	var (
		// rate is the rate blocks come in at, per second: it follows a
		// rise at once and a fall slowly. Until it is known the loop wakes
		// after a block timeout.
		rate    float64
		known   bool
		prevAt  = time.Now()
		prevCnt = uint64(0)
	)
	// The kernel's drop counter, read at every look after taking the
	// blocks (which resets what afpacket.Block.Losing says): at the stop,
	// the drops that matter are those before the stop, and for a limit
	// those before the frame reaching it (ringBuffer.noteDrops).
	var drops uint64
	for {
		err := rb.take()
		if st, serr := k.Stats(); serr == nil {
			drops = st.Drops
		}
		rb.noteDrops(drops)
		if rb.reached != afpacket.LimitNone {
			return limitReason(rb.reached), rb.cutDropped, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return s.ctxReason(ctx), drops, nil
			}
			return "", drops, fmt.Errorf("reading from %s: %w", s.cp.iface, err)
		}
		if ctx.Err() != nil {
			return s.ctxReason(ctx), drops, nil
		}
		lastNs = max(lastNs, rb.last)
		now := clock.Now()
		if s.live != nil {
			frames, bytes := rb.estimate()
			s.live.set(uint64(frames), uint64(header+bytes), now.UnixNano())
		}
		if !now.Before(durEnd) {
			return StopDuration, drops, nil
		}
		idle := time.Unix(0, lastNs+min(timeoutNs, durEnd.UnixNano()-lastNs))
		if !now.Before(idle) && k.Filling() == 0 {
			return StopTimeout, drops, nil
		}

		// The rate blocks come in at says how long the free blocks last.
		t := time.Now()
		if dt := t.Sub(prevAt).Seconds(); dt > 0 {
			cur := float64(rb.nextID-1-prevCnt) / dt
			rate = max(cur, 0.75*rate+0.25*cur)
		}
		prevAt, prevCnt = t, rb.nextID-1
		need := minFree
		if rate > 0 {
			// Room for ringMargin's worth of blocks: a wake-up late by
			// that much on a loaded machine still finds a free block. A
			// capture about to reach its limit needs room only for the
			// blocks up to it: the ring then fills with records to the
			// last block instead of giving its oldest back.
			margin := min(n-1, int(rate*ringMargin.Seconds())+2)
			// While the rest of the capture does not fit the free blocks,
			// a quarter of the ring stays free, and the blocks handed over
			// until the next look: the kernel may drop a frame while it
			// hands a block over when the block a quarter ahead of the
			// one it fills is kept (see minRingTimeout).
			left := rb.blocksToLimit()
			if left < 0 || left > rb.free() {
				margin = max(margin, n/4+4)
			}
			if left >= 0 {
				margin = min(margin, left)
			}
			need = max(need, margin)
		}
		rb.makeRoom(need)
		if rb.reached != afpacket.LimitNone { // compacting found the frame
			return limitReason(rb.reached), rb.cutDropped, nil
		}
		// The free blocks must last until the next look even if traffic
		// bursts at peakRingRate from a quiet link.
		wait := maxRingWake
		if !known {
			wait, known = blockTimeout, true
		}
		peak := max(rate, peakRingRate)
		wait = min(wait, time.Duration(float64(rb.free())/2/peak*float64(time.Second)))
		if d := idle.Sub(now); d > 0 {
			wait = min(wait, d)
		} else {
			wait = min(wait, blockTimeout) // idle, but the kernel fills a block: it retires soon
		}
		wait = min(max(wait, minRingWake), max(durEnd.Sub(now), time.Millisecond))
		if timer == nil {
			if err := k.Wait(ctx, wait); err == nil || ctx.Err() != nil {
				continue
			}
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
	}
}

// limitReason is the stop reason of a limit the ring buffer reached.
func limitReason(l afpacket.Limit) StopReason {
	switch l {
	case afpacket.LimitFrames:
		return StopPackets
	case afpacket.LimitBytes:
		return StopBytes
	default:
		return StopDuration
	}
}
