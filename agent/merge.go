package agent

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// This file runs a merged capture (merge_group.go has its stop controls):
// the sessions of all its interfaces, the merge of their frames into one
// pcapng file, its delivery, and one Result per interface.

// mergedFile is what captureMerged produced.
type mergedFile struct {
	outs    []outcome       // one per session, in order; res counts what is in the file
	buf     *capfile.Buffer // the pcapng file; nil when no session started
	packets uint64          // frames in the file
	err     error           // the merge failed (buf is nil then)
	reason  StopReason      // the stop control that ended the group ("" if none did)
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
	header := capfile.NGHeaderLen(names)
	g := newMergeGroup(p, header, a.clock.Now(), sessions[0].blockTimeout, cancel)
	m := mergedFile{outs: make([]outcome, len(sessions))}
	var wg sync.WaitGroup
	for i, s := range sessions {
		s.group, s.ifID = g, uint32(i)
		wg.Go(func() {
			m.outs[i] = s.capture(gctx, func() { armed(i) })
			m.outs[i].wait()
			if strict && m.outs[i].buf == nil {
				g.stop(StopShutdown)
				cancel(m.outs[i].err)
			}
		})
	}
	wg.Wait()
	g.end()
	m.reason = g.stopped()

	ifaces := make([]capfile.Interface, len(sessions))
	srcs := make([]*capfile.Buffer, len(sessions))
	started := false
	for i, s := range sessions {
		o := &m.outs[i]
		ifaces[i] = capfile.Interface{Name: names[i], LinkType: s.cp.linkType, Snaplen: p.snaplen}
		if o.buf == nil {
			if m.startErr == nil {
				m.startErr = o.err
			}
			continue
		}
		ifaces[i].LinkType, ifaces[i].Snaplen = s.linkType, o.snaplen
		srcs[i], started = o.buf, true
	}
	if !started {
		return m
	}
	buf := capfile.NewBuffer(a.pool)
	capfile.WriteNGHeader(buf, ifaces)
	counts, err := capfile.MergeEPBs(buf, srcs, capfile.MergeLimits{Packets: uint64(p.packets), Bytes: p.bytes, Visit: visit})
	for i := range m.outs {
		m.outs[i].buf = nil // consumed by MergeEPBs
	}
	if err != nil {
		buf.Release()
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
		o.res.Packets, o.res.Bytes = counts[i].Packets, uint64(counts[i].Bytes)
		clampLookback(&o.res)
		if o.res.Status == StatusOK && o.res.Packets == 0 {
			o.res.Status = StatusEmpty
		}
		m.packets += o.res.Packets
		capfile.WriteNGStats(buf, uint32(i), capfile.Stats{
			Start: o.res.Started, End: o.res.Ended, Received: o.stats.Packets, Drops: o.stats.Drops,
			Delivered: o.res.Packets, KernelKnown: o.statsKnown,
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
			log: a.log.With("id", r.id, "interface", cp.iface), live: r.liveOf(cp.iface),
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
			Data:      m.buf.Data(),
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
		m.buf.Release()
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
