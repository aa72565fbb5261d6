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
	fmt.Fprintf(&b, "\n%-24s %13s %13s %13s %11s %11s %8s\n", "DLT", "accept opt", "accept unopt", "reject", "apply opt", "apply unopt", "pass %")
	row := func(name string, c *counts) {
		f := func(k confKind) string {
			if c.total[k] == 0 {
				return "-"
			}
			return fmt.Sprintf("%d/%d", c.pass[k], c.total[k])
		}
		pass, total := 0, 0
		for k := range c.total {
			pass += c.pass[k]
			total += c.total[k]
		}
		fmt.Fprintf(&b, "%-24s %13s %13s %13s %11s %11s %8.2f\n", name, f(confAcceptOpt), f(confAcceptUnopt), f(confRejectKind), f(confApplyOpt), f(confApplyUnopt), confPct(pass, total))
	}
	// The Linux link types first, then the others by number of cases.
	var linux, others counts
	var rest []string
	for d, c := range per {
		sum := &others
		if confIsCore(d) {
			sum = &linux
		} else {
			rest = append(rest, d)
		}
		for k := range c.total {
			sum.total[k] += c.total[k]
			sum.pass[k] += c.pass[k]
		}
	}
	for _, d := range confCoreDLTs {
		if c := per[d]; c != nil {
			row(d, c)
		}
	}
	row("(Linux link types)", &linux)
	size := func(d string) int {
		n := 0
		for _, v := range per[d].total {
			n += v
		}
		return n
	}
	sort.Slice(rest, func(i, j int) bool {
		if si, sj := size(rest[i]), size(rest[j]); si != sj {
			return si > sj
		}
		return rest[i] < rest[j]
	})
	for _, d := range rest {
		row(d, per[d])
	}
	row("(other link types)", &others)
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
