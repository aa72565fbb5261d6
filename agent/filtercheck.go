package agent

import (
	"context"
	"errors"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"golang.org/x/net/bpf"
)

// FilterCheck is a filter compiled as the agent would attach it.
type FilterCheck struct {
	Interface string
	LinkType  uint32 // the interface's pcap link type
	Snaplen   int    // the snap length the program returns
	// Program is the compiled filter; nil for an empty expression, which
	// attaches no filter (every packet is captured).
	Program []bpf.Instruction
}

// CheckFilter compiles expr as Submit would for a request with that "bpf",
// one "interface" ifname and that "snap" (0: the configured snap length):
// the interface's link type and netmask, the configured rules for names in
// filters and the compile time budget. Nothing is captured, admitted,
// published or logged.
//
// Errors are *ValidationError naming the field at fault ("bpf",
// "interface", "snap"); for a compile error found at a position in expr,
// errors.As also finds the *bpfcompile.Error.
func (a *Agent) CheckFilter(ctx context.Context, expr, ifname string, snap int64) (FilterCheck, error) {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	if len(expr) > maxBPFLen {
		return FilterCheck{}, invalid("bpf", "is %d bytes long, the limit is %d", len(expr), maxBPFLen)
	}
	if err := checkText(expr, true); err != nil {
		return FilterCheck{}, invalid("bpf", "%v", err)
	}
	if err := checkIfName(ifname); err != nil {
		return FilterCheck{}, invalid("interface", "%v", err)
	}
	if snap < 0 {
		return FilterCheck{}, invalid("snap", "must not be negative, found %d", snap)
	}
	n, err := limitInt("snap", snap, int64(cfg.MaxSnaplen), int64(cfg.Snaplen))
	if err != nil {
		return FilterCheck{}, err
	}
	info, err := a.lookup(ifname)
	if err != nil {
		return FilterCheck{}, invalid("interface", "no interface %q on this host: %v", ifname, err)
	}
	fc := FilterCheck{Interface: ifname, LinkType: info.LinkType, Snaplen: int(n)}
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return fc, nil
	}
	prog, _, err := a.compileFilter(ctx, &cfg, expr, info, fc.Snaplen)
	if err != nil {
		var ne *nameError
		var pe *bpfcompile.Error
		switch {
		case errors.As(err, &ne):
			ve := invalid("bpf", "%v", ne)
			ve.Err = ne.Unwrap()
			return FilterCheck{}, ve
		case errors.As(err, &pe):
			ve := invalid("bpf", "%s", filterError(err))
			ve.Err = pe
			return FilterCheck{}, ve
		}
		return FilterCheck{}, invalid("bpf", "%s", filterError(err))
	}
	fc.Program = prog
	return fc, nil
}
