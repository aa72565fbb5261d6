package agent

import (
	"context"
	"strings"
	"sync"
)

// captureOnceMerged is CaptureOnce for several interfaces: one merged
// capture (merge.go) whose summary sums the interfaces' counters. Packet
// and PacketOn see the file's frames after the capture, in its order.
func (a *Agent) captureOnceMerged(ctx context.Context, p *plan, cfg *Config, spec *CaptureSpec) (CaptureSummary, CaptureData, error) {
	defer a.pool.Drain() // the merge is over: keep no idle chunk
	sessions := make([]*session, len(p.captures))
	for i, cp := range p.captures {
		sessions[i] = &session{
			a: a, p: p, cp: cp, id: "capture", promisc: spec.Promiscuous, ring: cfg.RingBytes,
			log: a.log.With("interface", cp.iface),
		}
	}
	// The frames are shown once merged: only then is it known which of
	// them the limits keep, and in which order.
	var visit func(i int, ts int64, data []byte, wire int)
	switch {
	case spec.PacketOn != nil:
		visit = spec.PacketOn
	case spec.Packet != nil:
		visit = func(_ int, ts int64, data []byte, wire int) { spec.Packet(ts, data, wire) }
	}
	var mu sync.Mutex // one Armed call at a time
	info := func(i int) CaptureInfo {
		s := sessions[i]
		return CaptureInfo{Interface: s.cp.iface, LinkType: s.linkType, Snaplen: s.snaplen, UserFilter: s.filter != nil}
	}
	m := a.captureMerged(ctx, p, sessions, func(i int) {
		if spec.Armed != nil {
			mu.Lock()
			defer mu.Unlock()
			spec.Armed(info(i))
		}
	}, visit, true)
	if m.startErr != nil { // a socket never opened: the capture did not happen
		if m.buf != nil {
			m.buf.Release()
		}
		return CaptureSummary{}, nil, m.startErr
	}
	if m.err != nil {
		return CaptureSummary{}, nil, m.err
	}
	names := make([]string, len(sessions))
	sum := CaptureSummary{StopReason: m.reason, StatsKnown: true}
	var firstErr error
	for i, o := range m.outs {
		names[i] = sessions[i].cp.iface
		one := CaptureSummary{
			CaptureInfo: info(i),
			StopReason:  o.res.StopReason,
			Packets:     o.res.Packets,
			Bytes:       o.res.Bytes,
			Received:    o.stats.Packets,
			KernelDrops: o.stats.Drops,
			StatsKnown:  o.statsKnown,
			Started:     o.res.Started,
			Ended:       o.res.Ended,
		}
		sum.Interfaces = append(sum.Interfaces, one)
		sum.Packets += one.Packets
		sum.Received += one.Received
		sum.KernelDrops += one.KernelDrops
		sum.StatsKnown = sum.StatsKnown && one.StatsKnown
		sum.UserFilter = sum.UserFilter || one.UserFilter
		if i == 0 || one.Started.Before(sum.Started) {
			sum.Started = one.Started
		}
		if one.Ended.After(sum.Ended) {
			sum.Ended = one.Ended
		}
		if sum.StopReason == "" {
			sum.StopReason = one.StopReason
		}
		if firstErr == nil {
			firstErr = o.err
		}
	}
	sum.Interface = strings.Join(names, "+")
	sum.LinkType, sum.Snaplen = sum.Interfaces[0].LinkType, sum.Interfaces[0].Snaplen
	sum.Bytes = uint64(m.buf.Len())
	data := m.buf.Detach()
	if spec.Output != nil {
		spec.Output(data)
	}
	return sum, data, firstErr
}
