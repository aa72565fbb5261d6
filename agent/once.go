package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// noLimit stands for "no limit" in a CaptureSpec's zero packet, byte and
// time limits: large enough never to fire, small enough not to overflow a
// time.Time.
const (
	noLimitCount = int64(1) << 62
	noLimitTime  = 100 * 365 * 24 * time.Hour
)

// CaptureSpec is one capture on one interface run outside the request flow,
// as "pcapdaemon capture" asks for it. A zero limit means no limit; the
// capture ends at the first limit reached or when the context ends.
type CaptureSpec struct {
	// Interface is the interface to capture on.
	Interface string
	// Interfaces, when not empty, replaces Interface: the interfaces to
	// capture on. With more than one, their frames are merged in timestamp
	// order into one pcapng file with one interface description block each
	// (interface id = index in Interfaces, repeated names dropped), and
	// the packet and byte limits count that file.
	Interfaces []string
	// Filter is a pcap-filter(7) expression; empty captures every frame.
	Filter string
	// Packets stops the capture after this many frames.
	Packets int64
	// Bytes stops the capture once the file holds this many bytes
	// (headers included; the frame that crosses the limit is kept).
	Bytes int64
	// Duration stops the capture this long after the socket was armed.
	Duration time.Duration
	// Timeout stops the capture after this long without a frame.
	Timeout time.Duration
	// Snaplen is the most bytes kept of each frame (0: DefaultMaxSnaplen).
	Snaplen int
	// Format is FormatPcap (the default) or FormatPcapNG.
	Format string
	// Promiscuous puts the interface in promiscuous mode while capturing.
	Promiscuous bool
	// RingBytes is the size of the receive ring; 0 sizes it from the
	// limits (room for the whole file at full-size frames, at most 1 GiB,
	// at least DefaultRingBytes; several interfaces: DefaultRingBytes).
	RingBytes int64
	// Armed, when set, is called once the socket is open with its filter
	// attached, before the first frame is read.
	Armed func(CaptureInfo)
	// Packet, when set, is called for every frame written to the file with
	// its kernel timestamp (ns since the epoch), its bytes cut to the snap
	// length and its length on the wire. data is valid only during the call.
	Packet func(ts int64, data []byte, wire int)
	// PacketOn, when set, is called instead of Packet with the index of
	// the frame's interface in the capture's interface list.
	//
	// With several interfaces, Armed is called from one goroutine per
	// interface, never two at the same time; Packet and PacketOn are
	// called when the capture has ended, for the frames of the merged
	// file in its order (only then is it known which frames the limits
	// keep: see CaptureOnce).
	PacketOn func(iface int, ts int64, data []byte, wire int)
	// Output, when set, is given the capture file as soon as the capture
	// has ended, before CaptureOnce returns it. On the ring path the last
	// blocks are then still being turned into records: the WriteTo of the
	// file's readers writes each part as soon as it is ready, so that
	// writing the file overlaps with making it, and Len, Read, ReadAt and
	// Seek wait for the whole file. It is not called when the capture did
	// not start.
	Output func(CaptureData)
}

// interfaces returns the interfaces spec captures on, each once.
func (spec *CaptureSpec) interfaces() []string {
	if len(spec.Interfaces) == 0 {
		return []string{spec.Interface}
	}
	var out []string
	for _, name := range spec.Interfaces {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// CaptureInfo describes an armed capture socket.
type CaptureInfo struct {
	Interface string
	LinkType  uint32 // pcap link type of the frames
	Snaplen   int    // most bytes kept of each frame
	// UserFilter reports that the kernel refused the filter program, which
	// therefore runs in user space (every frame crosses into the process).
	UserFilter bool
}

// CaptureSummary is what one CaptureOnce run did: the counters that tcpdump
// prints at its end, and the Result fields of a daemon capture.
type CaptureSummary struct {
	CaptureInfo
	StopReason StopReason
	// Packets is the number of frames written to the file.
	Packets uint64
	// Bytes is the size of the file.
	Bytes uint64
	// Received is the number of frames that passed the kernel filter,
	// dropped ones included (PACKET_STATISTICS tp_packets).
	Received uint64
	// KernelDrops is the number of frames the kernel dropped for lack of
	// ring space (tp_drops).
	KernelDrops uint64
	// StatsKnown reports that Received and KernelDrops were read.
	StatsKnown     bool
	Started, Ended time.Time
	// Interfaces holds one summary per interface of a capture on several
	// interfaces (nil otherwise). Then the counters above are their sums,
	// Bytes is the merged file's size, StatsKnown holds when every
	// interface's counters were read, and CaptureInfo names the
	// interfaces joined by "+" with the first one's link type.
	Interfaces []CaptureSummary
}

// CaptureOnce runs one capture through the daemon's capture session: the
// same filter compilation, handle, stop controls and in-memory buffer as a
// request's capture, without admission, sinks or result events. Of the
// Options, WithLogger, WithClock, WithOpener, WithInterfaceLookup and
// WithCompiler apply.
//
// An unknown interface, a filter that does not compile (the error wraps
// *bpfcompile.Error, which names the position) or a socket that cannot be
// opened return an error and no data. A read error during the capture
// returns the summary and the data captured so far with the error. The data
// is a whole pcap or pcapng file, header included, even with no packets.
func CaptureOnce(ctx context.Context, spec CaptureSpec, opts ...Option) (CaptureSummary, CaptureData, error) {
	a := &Agent{}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.clock == nil {
		a.clock = systemClock{}
	}
	if a.open == nil {
		a.open = OpenAFPacket
	}
	if a.lookup == nil {
		a.lookup = LookupInterface
	}
	if a.compile == nil {
		a.compile = defaultCompiler
	}
	cfg := Config{RingBytes: spec.RingBytes}.withDefaults()
	free := 0
	if n := len(spec.interfaces()); n > 1 {
		free = n + 1 // the merge reuses the chunks it has read
	}
	a.pool = capfile.NewChunkPool(cfg.ChunkSize, free)

	p, err := a.oncePlan(ctx, &cfg, &spec)
	if err != nil {
		return CaptureSummary{}, nil, err
	}
	if len(p.captures) > 1 {
		return a.captureOnceMerged(ctx, p, &cfg, &spec)
	}
	cp := p.captures[0]
	ring := spec.RingBytes
	if ring <= 0 {
		ring = ringSize(DefaultRingBytes, maxRingBytes, p)
	}
	s := &session{
		a: a, p: p, cp: cp, id: "capture", promisc: spec.Promiscuous, ring: ring,
		log:      a.log.With("interface", cp.iface),
		onPacket: spec.Packet,
	}
	if spec.PacketOn != nil {
		s.onPacket = func(ts int64, data []byte, wire int) { spec.PacketOn(0, ts, data, wire) }
	}
	info := func() CaptureInfo {
		return CaptureInfo{Interface: cp.iface, LinkType: s.linkType, Snaplen: s.snaplen, UserFilter: s.filter != nil}
	}
	out := s.capture(ctx, func() {
		if spec.Armed != nil {
			spec.Armed(info())
		}
	})
	f := out.captured()
	if f == nil { // the socket never opened
		return CaptureSummary{}, nil, out.err
	}
	if spec.Output != nil {
		spec.Output(f.Data())
	}
	out.wait()
	sum := CaptureSummary{
		CaptureInfo: info(),
		StopReason:  out.res.StopReason,
		Packets:     out.res.Packets,
		Bytes:       out.res.Bytes,
		Received:    out.stats.Packets,
		KernelDrops: out.stats.Drops,
		StatsKnown:  out.statsKnown,
		Started:     out.res.Started,
		Ended:       out.res.Ended,
	}
	return sum, f.Detach(), out.err
}

// oncePlan is makePlan for a CaptureSpec: no configured maxima, the
// filter compiled for each interface's link type.
func (a *Agent) oncePlan(ctx context.Context, cfg *Config, spec *CaptureSpec) (*plan, error) {
	orNone := func(v int64) int64 {
		if v <= 0 {
			return noLimitCount
		}
		return v
	}
	orForever := func(d time.Duration) time.Duration {
		if d <= 0 {
			return noLimitTime
		}
		return d
	}
	p := &plan{
		packets:  orNone(spec.Packets),
		bytes:    orNone(spec.Bytes),
		duration: orForever(spec.Duration),
		timeout:  orForever(spec.Timeout),
		snaplen:  spec.Snaplen,
		format:   spec.Format,
	}
	switch {
	case p.snaplen < 0:
		return nil, fmt.Errorf("snap length %d is negative", spec.Snaplen)
	case p.snaplen == 0 || p.snaplen > DefaultMaxSnaplen:
		p.snaplen = DefaultMaxSnaplen
	}
	ifaces := spec.interfaces()
	merge := len(ifaces) > 1
	switch p.format {
	case "":
		p.format = FormatPcap
		if merge {
			p.format = FormatPcapNG
		}
	case FormatPcap:
		if merge {
			return nil, fmt.Errorf("format %q: a capture on several interfaces (%s) is one merged file, which needs %q",
				spec.Format, strings.Join(ifaces, ", "), FormatPcapNG)
		}
	case FormatPcapNG:
	default:
		return nil, fmt.Errorf("format %q: must be %q or %q", spec.Format, FormatPcap, FormatPcapNG)
	}
	for _, name := range ifaces {
		if err := checkIfName(name); err != nil {
			return nil, err
		}
	}
	expr := strings.TrimSpace(spec.Filter)
	p.req = Request{Interface: ifaces, BPF: expr, Snap: int64(p.snaplen), Format: p.format, Merge: merge}

	for _, name := range ifaces {
		info, err := a.lookup(name)
		if err != nil {
			return nil, fmt.Errorf("no interface %q on this host: %w", name, err)
		}
		cp := capturePlan{target: target{iface: name}, linkType: info.LinkType, netmask: info.Netmask}
		if expr != "" {
			// Interfaces of one link type and netmask share the program.
			i := slices.IndexFunc(p.captures, func(c capturePlan) bool {
				return c.linkType == cp.linkType && c.netmask == cp.netmask
			})
			if i >= 0 {
				cp.prog, cp.raw = p.captures[i].prog, p.captures[i].raw
			} else if cp.prog, cp.raw, err = a.compileFilter(ctx, cfg, expr, info, p.snaplen); err != nil {
				return nil, fmt.Errorf("filter for %s: %w", name, err)
			}
		}
		p.captures = append(p.captures, cp)
	}
	return p, nil
}
