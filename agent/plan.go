package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"golang.org/x/net/bpf"
)

// maxBPFInsns is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const maxBPFInsns = 4096

// plan is a request validated against the configuration: the limits with
// their defaults filled in, the interfaces with their filter programs, and
// the memory each capture reserves.
type plan struct {
	req      Request // with the defaults filled in
	packets  int64
	bytes    int64
	timeout  time.Duration
	duration time.Duration
	snaplen  int
	format   string
	debug    bool
	captures []capturePlan
	lookback time.Duration // history asked of the look-back rings (0: none)
	ring     int64         // bytes of each capture's receive ring (ringSize)
	reserve  int64         // memory one capture of this request may use, ring included
}

// capturePlan is one interface of a plan.
type capturePlan struct {
	target
	linkType uint32
	netmask  uint32
	prog     []bpf.Instruction    // nil when the request has no filter
	raw      []bpf.RawInstruction // prog assembled for the kernel
	// lbVM is the filter run on the look-back ring's frames (nil: none).
	lbVM *bpfcompile.VM
}

// makePlan checks a decoded request against the configured limits, expands
// aliases, checks the interfaces exist and compiles the filter for each
// interface's link type. Errors are *ValidationError.
func (a *Agent) makePlan(ctx context.Context, cfg *Config, d *decoded) (*plan, error) {
	r := d.req
	p := &plan{format: cfg.Format, debug: cfg.PacketDebug || r.PacketDebug}
	var err error
	if p.packets, err = limitInt("packets", r.Packets, cfg.MaxPackets, cfg.MaxPackets); err != nil {
		return nil, err
	}
	if p.bytes, err = limitInt("bytes", r.Bytes, cfg.MaxBytes, cfg.MaxBytes); err != nil {
		return nil, err
	}
	if p.timeout, err = limitSeconds("timeout", r.Timeout, cfg.MaxTimeout, cfg.DefaultTimeout); err != nil {
		return nil, err
	}
	if p.duration, err = limitSeconds("duration", r.Duration, cfg.MaxDuration, cfg.MaxDuration); err != nil {
		return nil, err
	}
	snap, err := limitInt("snap", r.Snap, int64(cfg.MaxSnaplen), int64(cfg.Snaplen))
	if err != nil {
		return nil, err
	}
	p.snaplen = int(snap)
	if r.Format != "" {
		p.format = r.Format
	}
	r.Packets, r.Bytes, r.Snap, r.Format = p.packets, p.bytes, snap, p.format
	r.Timeout, r.Duration = int64(p.timeout/time.Second), int64(p.duration/time.Second)
	p.req = r

	targets, err := expandTargets(&r, cfg.Aliases)
	if err != nil {
		return nil, err
	}
	if len(targets) > maxListItems {
		return nil, invalid("alias", "names %d interfaces, the limit is %d", len(targets), maxListItems)
	}
	type key struct{ lt, mask uint32 }
	progs := make(map[key]capturePlan)
	expr := strings.TrimSpace(r.BPF)
	for i, t := range targets {
		info, err := a.lookup(t.iface)
		if err != nil {
			if t.alias != "" {
				return nil, invalid("alias", "alias %q names interface %q, which this host does not have: %v", t.alias, t.iface, err)
			}
			return nil, invalid(fieldAt("interface", i), "no interface %q on this host: %v", t.iface, err)
		}
		cp := capturePlan{target: t, linkType: info.LinkType, netmask: info.Netmask}
		if expr != "" {
			k := key{info.LinkType, info.Netmask}
			c, ok := progs[k]
			if !ok {
				c.prog, c.raw, err = a.compileFilter(ctx, cfg, expr, info, p.snaplen)
				var ne *nameError
				switch {
				case errors.As(err, &ne):
					ve := invalid("bpf", "%v", ne)
					ve.Err = ne.Unwrap()
					return nil, ve
				case err != nil:
					return nil, invalid("bpf", "%s (compiling for interface %s, link type %d)", filterError(err), t.iface, info.LinkType)
				}
				progs[k] = c
			}
			cp.prog, cp.raw = c.prog, c.raw
		}
		p.captures = append(p.captures, cp)
	}
	if err := a.planLookback(ctx, cfg, p, expr); err != nil {
		return nil, err
	}
	p.ring = ringSize(cfg.RingBytes, maxRing(cfg), p)
	if p.req.Merge && len(p.captures) > 1 {
		p.ring = cfg.RingBytes // a merged capture copies its frames (merge.go)
	}
	p.reserve = reservation(cfg, p)
	return p, nil
}

// compileFilter compiles expr under the configured time budget. Names in
// expr are looked up through a filterResolver: refused when names are
// turned off, each host name bounded by NameTimeout, and all of them ended
// with the budget. A failure caused by a name is a *nameError.
func (a *Agent) compileFilter(ctx context.Context, cfg *Config, expr string, info InterfaceInfo, snaplen int) ([]bpf.Instruction, []bpf.RawInstruction, error) {
	return a.compileFlavour(ctx, cfg, expr, info, snaplen, true)
}

// compileFlavour is compileFilter for the kernel (live) or for frames as
// a savefile holds them (VLAN tags in place, no metadata).
//
// A program the agent compiled before without asking the resolver
// anything comes from its cache. Otherwise the filter is compiled here
// first with a resolver that answers nothing: only a name lookup can
// block, the compiler's own work is bounded, and a compilation in this
// goroutine spares the two thread wake-ups of handing it to another one
// (most of its time inside a request on a busy host). Only a filter that
// asks for a name is compiled again, with the resolver, in a goroutine
// the budget can give up on.
func (a *Agent) compileFlavour(ctx context.Context, cfg *Config, expr string, info InterfaceInfo, snaplen int, live bool) ([]bpf.Instruction, []bpf.RawInstruction, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	opts := bpfcompile.Options{
		LinkType: bpfcompile.LinkType(info.LinkType),
		Snaplen:  snaplen,
		Netmask:  info.Netmask,
		Live:     live,
	}
	key := progKey{expr: expr, opts: opts, noNames: cfg.NoFilterNames}
	if prog, raw, ok := a.progs.get(key); ok {
		return prog, raw, nil
	}
	start := time.Now()
	var probe noNames
	prog, err := a.compileSafe(expr, opts, &probe)
	if !probe.asked.Load() {
		if err == nil && time.Since(start) > cfg.CompileTimeout {
			err = fmt.Errorf("compiling took longer than %v", cfg.CompileTimeout)
		}
		if err != nil {
			return nil, nil, err
		}
		raw, err := assemble(prog)
		if err != nil {
			return nil, nil, err
		}
		a.progs.put(key, prog, raw)
		return prog, raw, nil
	}
	return a.compileNames(ctx, cfg, expr, opts)
}

// compileNames compiles a filter that contains names under the configured
// time budget, the names looked up through a filterResolver. The result
// is not cached: a name may resolve differently next time.
func (a *Agent) compileNames(ctx context.Context, cfg *Config, expr string, opts bpfcompile.Options) ([]bpf.Instruction, []bpf.RawInstruction, error) {
	type out struct {
		prog []bpf.Instruction
		err  error
	}
	// Ending cctx ends the lookups of a compilation given up on, which
	// would otherwise go on querying DNS after the request was answered.
	cctx, cancel := context.WithTimeout(ctx, cfg.CompileTimeout)
	defer cancel()
	next := a.resolver
	if next == nil {
		next = bpfcompile.DefaultResolver()
	}
	res := &filterResolver{next: next, ctx: cctx, timeout: cfg.NameTimeout, refuse: cfg.NoFilterNames}
	ch := make(chan out, 1)
	go func() {
		prog, err := a.compileSafe(expr, opts, res)
		ch <- out{prog, err}
	}()
	var o out
	select {
	case o = <-ch:
	case <-cctx.Done():
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("compiling took longer than %v", cfg.CompileTimeout)
	}
	if o.err != nil {
		if ne := withNamePosition(res, o.err); ne != nil {
			return nil, nil, ne
		}
		return nil, nil, o.err
	}
	raw, err := assemble(o.prog)
	if err != nil {
		return nil, nil, err
	}
	return o.prog, raw, nil
}

// compileSafe runs the agent's compiler with res as the resolver; a
// compiler bug (a panic) is an error, not the end of the daemon.
func (a *Agent) compileSafe(expr string, opts bpfcompile.Options, res bpfcompile.Resolver) (prog []bpf.Instruction, err error) {
	defer func() {
		if v := recover(); v != nil {
			prog, err = nil, fmt.Errorf("compiler failed: %v", v)
		}
	}()
	opts.Resolver = res
	return a.compile(expr, opts)
}

// assemble checks a compiled program against the kernel's limits and
// assembles it.
func assemble(prog []bpf.Instruction) ([]bpf.RawInstruction, error) {
	if len(prog) > maxBPFInsns {
		return nil, fmt.Errorf("program has %d instructions, the kernel's limit is %d", len(prog), maxBPFInsns)
	}
	if len(prog) == 0 {
		return nil, errors.New("compiler returned an empty program")
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assembling the program: %w", err)
	}
	return raw, nil
}

// limitInt returns v, or def when v is 0; v above max is an error.
func limitInt(field string, v, max, def int64) (int64, error) {
	if v == 0 {
		return def, nil
	}
	if v > max {
		return 0, invalid(field, "%d is above the configured maximum %d", v, max)
	}
	return v, nil
}

// limitSeconds is limitInt for a number of seconds.
func limitSeconds(field string, v int64, max, def time.Duration) (time.Duration, error) {
	if v == 0 {
		return def, nil
	}
	if v > int64(max/time.Second) {
		return 0, invalid(field, "%d seconds is above the configured maximum %d", v, int64(max/time.Second))
	}
	return time.Duration(v) * time.Second, nil
}

// reservation is the most memory one capture of p can use: its ring, and a
// buffer bounded both by the byte limit (plus the one record that may cross
// it) and by the packet limit, rounded up to whole chunks. (On the ring
// path the frames stay in the ring and only what it has no room for goes
// into chunks; the copying path copies all.)
func reservation(cfg *Config, p *plan) int64 {
	chunk := int64(cfg.ChunkSize)
	chunks := fileBound(p)/chunk + 1
	if chunks > math.MaxInt64/chunk-1 {
		return math.MaxInt64
	}
	return satAdd(chunks*chunk, p.ring)
}

// fileBound is the most bytes a capture file of p holds: the byte limit
// plus the one record that may cross it, or the packet limit's records,
// and what is no frame's record.
func fileBound(p *plan) int64 {
	rec := capfile.MaxPcapRecordLen(p.snaplen)
	if p.format == FormatPcapNG {
		rec = capfile.MaxEPBLen(p.snaplen)
	}
	bound := satAdd(p.bytes, rec)
	if p.packets <= math.MaxInt64/rec {
		bound = min(bound, p.packets*rec)
	}
	return satAdd(bound, capfile.MaxFileOverhead)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// filterError formats a compile error for the "bpf" field: "line:col: msg"
// for the compiler's positioned errors, without its package prefix.
func filterError(err error) string {
	var pe *bpfcompile.Error
	if errors.As(err, &pe) {
		return pe.Pos.String() + ": " + pe.Msg
	}
	return strings.TrimPrefix(err.Error(), "bpf: ")
}
