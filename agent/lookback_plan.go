package agent

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// planLookback checks a request's "lookback" against the configuration
// (at most MaxLookback seconds; every interface keeps a look-back ring)
// and compiles its filter for the rings' frames. Errors are
// *ValidationError naming the field.
func (a *Agent) planLookback(ctx context.Context, cfg *Config, p *plan, expr string) error {
	secs := p.req.Lookback
	if secs == 0 {
		return nil
	}
	if limit := int64(cfg.MaxLookback / time.Second); secs > limit {
		return invalid("lookback", "%d seconds is above the configured maximum %d ([general] maxlookback)", secs, limit)
	}
	for i := range p.captures {
		cp := &p.captures[i]
		if !a.lookback.has(cp.iface) {
			return invalid("lookback", "interface %q keeps no look-back ring: give it one with lookback in its [[interface]] table of the configuration", cp.iface)
		}
		if expr == "" {
			continue
		}
		vm, err := a.lookbackVM(ctx, cfg, p, cp, expr)
		if err != nil {
			return invalid("bpf", "%s (compiling for the look-back ring of %s)", filterError(err), cp.iface)
		}
		cp.lbVM = vm
	}
	p.lookback = time.Duration(secs) * time.Second
	return nil
}

// lookbackVM returns the filter of cp run in user space on the frames of
// a look-back ring, which carry their VLAN tags in place as a savefile's
// do (afpacket.Conn.Walk): the savefile flavour of the program. A filter
// that only compiles live (inbound, outbound) runs the live program on
// the frames' metadata.
func (a *Agent) lookbackVM(ctx context.Context, cfg *Config, p *plan, cp *capturePlan, expr string) (*bpfcompile.VM, error) {
	info := InterfaceInfo{LinkType: cp.linkType, Netmask: cp.netmask}
	prog, _, err := a.compileFlavour(ctx, cfg, expr, info, p.snaplen, false)
	if err != nil {
		if cp.prog == nil {
			return nil, err
		}
		prog = cp.prog
	}
	vm, err := bpfcompile.NewVM(prog)
	if err != nil {
		return nil, fmt.Errorf("the user-space filter: %w", err)
	}
	return vm, nil
}

// lookbackNote says, in an admission error, what the look-back rings
// take of the memory budget.
func lookbackNote(maxMemory, budget int64) string {
	if budget == maxMemory {
		return ""
	}
	return fmt.Sprintf(" (the look-back rings take %d of the %d bytes of maxmemory)", maxMemory-budget, maxMemory)
}

// withLookback gives the interfaces of a NodeInfo the spans their
// look-back rings hold; a ring on "any", which no host lists, is added.
func withLookback(ifs []NodeInterface, rings []LookbackStatus) []NodeInterface {
	for _, st := range rings {
		span := &LookbackSpan{Bytes: st.Bytes, Seconds: st.Seconds()}
		i := slices.IndexFunc(ifs, func(n NodeInterface) bool { return n.Name == st.Interface })
		if i < 0 {
			ifs = append(ifs, NodeInterface{Name: st.Interface, Absent: st.Interface != anyInterface})
			i = len(ifs) - 1
		}
		ifs[i].Lookback = span
	}
	return ifs
}

// expectLookback is what Expect can tell of a request's "lookback" from
// the agent's NodeInfo: above its maximum, or on an interface without a
// look-back ring, it is rejected.
func (n *NodeInfo) expectLookback(req *Request, targets []target) error {
	if req.Lookback == 0 {
		return nil
	}
	if n.MaxLookback > 0 && req.Lookback > n.MaxLookback {
		return invalid("lookback", "%d seconds is above the configured maximum %d ([general] maxlookback)", req.Lookback, n.MaxLookback)
	}
	for _, t := range targets {
		i := slices.IndexFunc(n.Interfaces, func(in NodeInterface) bool { return in.Name == t.iface })
		if i < 0 || n.Interfaces[i].Lookback == nil {
			return invalid("lookback", "interface %q keeps no look-back ring: give it one with lookback in its [[interface]] table of the configuration", t.iface)
		}
	}
	return nil
}
