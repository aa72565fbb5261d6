package bpfcompile

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"golang.org/x/net/bpf"
)

// report prints the pass counts per link type and the other figures.
func (h *confHarness) report(outcomes []confOutcome) {
	type counts struct{ pass, total, errstr [confNumKinds]int }
	per := map[string]*counts{}
	var all counts
	for _, o := range outcomes {
		c := per[o.dlt]
		if c == nil {
			c = &counts{}
			per[o.dlt] = c
		}
		for _, x := range []*counts{c, &all} {
			x.total[o.kind]++
			if o.pass {
				x.pass[o.kind]++
			}
			if o.errstr {
				x.errstr[o.kind]++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-11s %13s %13s %20s %11s %11s\n", "DLT", "accept opt", "accept unopt", "reject (errstr)", "apply opt", "apply unopt")
	row := func(name string, c *counts) {
		f := func(k confKind) string {
			if c.total[k] == 0 {
				return "-"
			}
			return fmt.Sprintf("%d/%d", c.pass[k], c.total[k])
		}
		rej := f(confRejectKind)
		if c.total[confRejectKind] > 0 {
			rej += fmt.Sprintf(" (%d)", c.errstr[confRejectKind])
		}
		fmt.Fprintf(&b, "%-11s %13s %13s %20s %11s %11s\n", name, f(confAcceptOpt), f(confAcceptUnopt), rej, f(confApplyOpt), f(confApplyUnopt))
	}
	for _, d := range confCoreDLTs {
		if c := per[d]; c != nil {
			row(d, c)
		}
	}
	row("total", &all)
	h.t.Log(b.String())
	h.t.Logf("%d packet runs per program over the accept cases", h.packetsRun)
	if len(h.ratios) > 0 {
		r := slices.Clone(h.ratios)
		sort.Float64s(r)
		h.t.Logf("program length ours/libpcap (optimized), %d cases: median %.2f, worst %.2f: %s", len(r), r[len(r)/2], r[len(r)-1], h.worstRatio)
	} else {
		h.t.Log("program length ours/libpcap: no case compiled")
	}
	h.t.Logf("harness strength: %d of %d mutants of libpcap's programs told apart by the packets", h.mutantsKilled, h.mutantsTried)
	if h.mutantsTried > 0 && h.mutantsKilled*100 < h.mutantsTried*90 {
		h.t.Errorf("the packets tell apart only %d of %d mutated programs: the corpus is too weak", h.mutantsKilled, h.mutantsTried)
	}
	if n := len(h.selfDiffCases); n > 0 {
		h.t.Logf("libpcap's own optimized and unoptimized programs differ in %d cases (libpcap's optimizer, not ours), e.g.:\n\t%s",
			n, strings.Join(h.selfDiffCases[:min(n, 5)], "\n\t"))
	}
	if os.Getenv("CONFORMANCE_VERBOSE") != "" {
		for _, s := range h.selfDiffCases {
			h.t.Log(s)
		}
	}
}

// mutants checks that the packets are strong enough to catch a wrong
// program: it changes one comparison constant or return value of libpcap's
// program at a time and counts how many of these mutants some packet tells
// apart from the original.
func (h *confHarness) mutants(raw []bpf.RawInstruction, vm *VM, pkts []confPacket) {
	for i, r := range raw {
		op := vmDecodeOp(r.Op)
		var m bpf.RawInstruction
		switch {
		case op == vmOpJeqK || op == vmOpJgtK || op == vmOpJgeK:
			m = r
			m.K++
		case op == vmOpJsetK:
			m = r
			m.K = r.K &^ (r.K & -r.K) // drop the lowest bit tested
		case op == vmOpRetK && r.K != 0:
			m = r
			m.K = r.K - 1
		default:
			continue
		}
		mut := slices.Clone(raw)
		mut[i] = m
		mvm, err := newVMRaw(mut)
		if err != nil {
			continue
		}
		h.mutantsTried++
		if n, _ := confDiffAt(mvm, vm, pkts); n > 0 {
			h.mutantsKilled++
		} else if os.Getenv("CONFORMANCE_VERBOSE") != "" {
			h.t.Logf("mutant survives: instruction %d of\n%s", i, confListing(raw))
		}
	}
}

// confListing prints raw as tcpdump -d does.
func confListing(raw []bpf.RawInstruction) string {
	var b strings.Builder
	DumpRaw(&b, raw, DumpListing)
	return b.String()
}
