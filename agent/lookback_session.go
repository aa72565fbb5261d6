package agent

import (
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// This file puts a capture's look-back part in front of its own frames:
// once its socket is armed, a session with "lookback" has its interface's
// look-back ring copy the frames of the window (lookback_serve.go) into
// its file, then captures on from the seam. The packet and byte limits
// count both parts: a look-back part that reaches one ends the capture
// there.

// lookbackFill is what a session's look-back part came to.
type lookbackFill struct {
	seam    int64      // the capture's own frames are those stamped at or after it
	frames  int64      // frames of the part in the file
	reached StopReason // the limit the part reached ("": none)
	part    lookbackPart
}

// fetchLookback copies the look-back part of s's capture, armed at
// started, into w; size returns the file's bytes so far, header
// included. The frames go through the group's count in a merged capture.
func (s *session) fetchLookback(started time.Time, w fileWriter, size func() int64) lookbackFill {
	f := lookbackFill{seam: started.UnixNano()}
	g, snap := s.group, s.snaplen
	maxBytes := s.p.bytes
	if g != nil {
		maxBytes -= g.header // this interface's share, as in loop
	}
	j := &lookbackJob{
		seam: f.seam, from: f.seam - int64(s.p.lookback), linkType: s.linkType, vm: s.cp.lbVM,
		put: func(ts int64, data []byte, wire int) bool {
			if g != nil {
				reached, ok := g.take(ts, min(len(data), snap))
				if !ok {
					return false // newer than the group's stop
				}
				if reached != "" {
					g.stop(reached) // and copy on: take keeps what is older
				}
			}
			w.Packet(ts, data, wire)
			f.frames++
			switch {
			case f.frames >= s.p.packets:
				f.reached = StopPackets
			case size() >= maxBytes:
				f.reached = StopBytes
			}
			return f.reached == ""
		},
	}
	f.part = s.a.lookback.fetch(s.cp.iface, j)
	switch p := f.part; {
	case p.err != nil:
		s.log.Warn("the capture has no look-back part", "error", p.err)
	case p.skipped > 0:
		s.log.Warn("the look-back ring needed blocks of the window before they were copied: the look-back part begins later",
			"blocks", p.skipped)
	case p.late:
		s.log.Warn("the look-back ring did not hand over the block it was filling at the request's time in time: frames just before it may be missing")
	}
	s.log.Debug("look-back part copied", "frames", f.frames, "bytes", size(), "lookback", s.p.lookback)
	return f
}

// ringLookback is fetchLookback for the ring path: the part goes into a
// buffer of its own (the file's records after the header, lead), and the
// ring's limits become what is left of the request's, from the seam on.
// Without "lookback" it returns a nil buffer.
func (s *session) ringLookback(started time.Time, header int64, lim *afpacket.Limits) (*capfile.Buffer, lookbackFill) {
	if s.p.lookback <= 0 {
		return nil, lookbackFill{}
	}
	lead := capfile.NewBuffer(s.a.pool)
	var w fileWriter
	if s.p.format == FormatPcapNG {
		w = capfile.NewEPBWriter(lead, s.snaplen, 0)
	} else {
		w = capfile.NewPcapRecordWriter(lead, s.snaplen)
	}
	f := s.fetchLookback(started, w, func() int64 { return header + lead.Len() })
	lim.Start = f.seam
	lim.Frames -= f.frames
	lim.Bytes = max(1, lim.Bytes-lead.Len())
	return lead, f
}

// copyingLookback is fetchLookback for the copying path: the part goes
// into the file through the session's writer (whose buffer has the
// header), and the loop takes the frames from the seam on. It returns
// the frames written.
func (s *session) copyingLookback(started time.Time, w fileWriter, buf *capfile.Buffer) lookbackFill {
	if s.p.lookback <= 0 {
		return lookbackFill{}
	}
	f := s.fetchLookback(started, w, buf.Len)
	s.seam = f.seam
	return f
}

// report sets the Result's look-back fields.
func (f *lookbackFill) report(p *plan, res *Result) {
	if p.lookback <= 0 {
		return
	}
	n := uint64(f.frames)
	res.LookbackPackets = &n
	if ns := f.part.oldest; ns != 0 {
		t := time.Unix(0, ns)
		res.LookbackFrom = &t
	}
}

// clampLookback keeps a merged capture's look-back count within the
// frames of the interface the merge kept: the look-back frames come
// first in each interface's part, and the merge keeps a beginning of
// each part.
func clampLookback(res *Result) {
	if res.LookbackPackets != nil && *res.LookbackPackets > res.Packets {
		n := res.Packets
		res.LookbackPackets = &n
	}
}
