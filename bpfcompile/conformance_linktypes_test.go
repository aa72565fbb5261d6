package bpfcompile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// The conformance corpus's link types beyond the ones a Linux host
// captures: there is no packet corpus for them, so their accept cases
// are judged by the listings, which must be libpcap's. An optimized
// listing that differs while the unoptimized one is libpcap's is the
// optimizer's difference; the packets the explorer makes from blank
// seeds tell whether it changes a verdict, which the reason says.

// acceptOptions are the Options of an accept entry.
func (h *confHarness) acceptOptions(a confAccept) (Options, error) {
	lt, ok := confLinkType(a.DLT)
	if !ok {
		return Options{}, fmt.Errorf("link type %s not supported", a.DLT)
	}
	nm, err := confNetmask(a.Netmask)
	if err != nil {
		return Options{}, err
	}
	opts := Options{LinkType: lt, Snaplen: a.Snaplen, Netmask: nm, Live: a.LinuxExt, Resolver: h.res}
	if a.GenerateOffline != nil { // filtertest -S: code for a savefile
		opts.OfflineAF = true
		opts.SwappedAF = *a.GenerateOffline == "swapped"
	}
	return opts, nil
}

// acceptListing runs one accept entry of a link type without a packet
// corpus: our listings, optimized and not, must be libpcap's.
func (h *confHarness) acceptListing(a confAccept) []confOutcome {
	opt := confOutcome{label: a.Label + "/opt", dlt: a.DLT, kind: confAcceptOpt}
	unopt := confOutcome{label: a.Label + "/unopt", dlt: a.DLT, kind: confAcceptUnopt}
	opts, err := h.acceptOptions(a)
	if err != nil || a.ExpectedUnopt == nil {
		if err == nil {
			err = fmt.Errorf("corpus entry without expected_unopt")
		}
		opt.reason, unopt.reason = err.Error(), err.Error()
		return []confOutcome{opt, unopt}
	}
	listing := func(o Options) (string, []bpf.RawInstruction, error) {
		prog, err := confSafeCompile(a.Expr, o)
		if err != nil {
			return "", nil, err
		}
		raw, err := vmAssemble(prog)
		if err != nil {
			return "", nil, err
		}
		return confListing(raw), raw, nil
	}
	// A listing of libpcap's that the kernel refuses for reading scratch
	// memory before writing it is libpcap's bug, which ours need not have.
	libpcapBug := func(theirs string, ours []bpf.RawInstruction) string {
		raw, err := confParseExpected(theirs)
		if err != nil || !errors.Is(checkRaw(raw), ErrScratchUninitialized) || checkRaw(ours) != nil {
			return ""
		}
		return fmt.Sprintf("libpcap's program reads scratch memory before writing it (%v), ours does not; ", checkRaw(raw))
	}
	unoptOpts := opts
	unoptOpts.NoOptimize = true
	got, oursUnopt, err := listing(unoptOpts)
	switch {
	case err != nil:
		unopt.reason = err.Error()
	case got != *a.ExpectedUnopt:
		unopt.reason = libpcapBug(*a.ExpectedUnopt, oursUnopt) + "listing differs from libpcap's: " + confFirstLineDiff(*a.ExpectedUnopt, got)
	default:
		unopt.pass = true
	}

	got, ours, err := listing(opts)
	switch {
	case a.OptimizerRejects:
		switch {
		case err == nil:
			opt.reason = "optimized compile succeeded; libpcap: expression rejects all packets"
		case strings.Contains(err.Error(), ErrRejectsAll.Error()):
			opt.pass = true
		default:
			opt.reason = fmt.Sprintf("want %q, got %v", ErrRejectsAll, err)
		}
	case a.ExpectedOpt == nil:
		opt.reason = "corpus entry without expected_opt"
	case err != nil:
		opt.reason = err.Error()
	case got == *a.ExpectedOpt:
		opt.pass = true
	case !unopt.pass:
		opt.reason = libpcapBug(*a.ExpectedOpt, ours) + "listing differs from libpcap's: " + confFirstLineDiff(*a.ExpectedOpt, got)
	default:
		opt.reason = "optimizer: " + h.verdictDiff(ours, *a.ExpectedOpt, *a.ExpectedUnopt) +
			"; " + confFirstLineDiff(*a.ExpectedOpt, got)
	}
	return []confOutcome{opt, unopt}
}

// verdictDiff says whether our optimized program and libpcap's return
// the same on the packets the explorer makes from blank seeds.
func (h *confHarness) verdictDiff(ours []bpf.RawInstruction, theirOptText, theirUnoptText string) string {
	theirOpt, err1 := confParseExpected(theirOptText)
	theirUnopt, err2 := confParseExpected(theirUnoptText)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("libpcap's listing does not parse: %v %v", err1, err2)
	}
	oursVM, err1 := newVMRaw(ours)
	theirsVM, err2 := newVMRaw(theirOpt)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("a program does not load: %v %v", err1, err2)
	}
	var seeds []confPacket
	for _, fill := range []byte{0x00, 0xff} {
		for _, n := range []int{40, 128, 400} {
			d := bytes.Repeat([]byte{fill}, n)
			seeds = append(seeds, confPacket{data: d, wire: n, origin: fmt.Sprintf("%d bytes of %#x", n, fill)})
		}
	}
	made := confExplore([][]bpf.RawInstruction{theirUnopt, theirOpt, ours}, seeds, map[string]bool{}, 400)
	pkts := append(seeds, made...)
	for _, p := range made {
		pkts = append(pkts, confTruncations(p, 0)...)
	}
	h.packetsRun += len(pkts)
	if n, first := confDiff(oursVM, theirsVM, pkts); n > 0 {
		return fmt.Sprintf("the listing differs from libpcap's and so do verdicts on %d of %d packets, first %s", n, len(pkts), first)
	}
	return fmt.Sprintf("the listing differs from libpcap's, verdicts agree on %d packets", len(pkts))
}

// confFirstLineDiff describes the first line where two listings differ.
func confFirstLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d: libpcap %q, ours %q (%d vs %d lines)", i+1, wl, gl, len(w)-1, len(g)-1)
		}
	}
	return "same"
}

// The goals of the issue: over the whole corpus, at least 99.5 % of the
// cases pass; on the link types a Linux host captures, every
// unoptimized accept case, and at least 99.9 % of the cases compiled
// with the optimizer (accept and apply optimized, reject).
const (
	confGoalAll       = 99.5
	confGoalLinuxOpt  = 99.9
	confGoalLinuxUnop = 100.0
)

// confRates returns the pass percentage of the outcomes that match.
func confRates(outcomes []confOutcome, match func(confOutcome) bool) (pass, total int) {
	for _, o := range outcomes {
		if match(o) {
			total++
			if o.pass {
				pass++
			}
		}
	}
	return pass, total
}

func confPct(pass, total int) float64 {
	if total == 0 {
		return 100
	}
	return 100 * float64(pass) / float64(total)
}

// confCheckGoals fails t when a pass rate is below its goal.
func confCheckGoals(t *testing.T, outcomes []confOutcome) {
	t.Helper()
	goals := []struct {
		name  string
		goal  float64
		match func(confOutcome) bool
	}{
		{"all cases, all link types", confGoalAll, func(confOutcome) bool { return true }},
		{"Linux link types, unoptimized accept", confGoalLinuxUnop, func(o confOutcome) bool {
			return confIsCore(o.dlt) && o.kind == confAcceptUnopt
		}},
		{"Linux link types, optimized (accept, apply, reject)", confGoalLinuxOpt, func(o confOutcome) bool {
			return confIsCore(o.dlt) && (o.kind == confAcceptOpt || o.kind == confApplyOpt || o.kind == confRejectKind)
		}},
	}
	for _, g := range goals {
		pass, total := confRates(outcomes, g.match)
		pct := confPct(pass, total)
		t.Logf("goal %s: %d/%d = %.2f %% (goal %.1f %%)", g.name, pass, total, pct, g.goal)
		if pct < g.goal {
			t.Errorf("%s: %d/%d = %.2f %%, below the goal of %.1f %%", g.name, pass, total, pct, g.goal)
		}
	}
}
