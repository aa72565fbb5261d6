package bpfcompile

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

var (
	updateRandomLabels = flag.Bool("update-random-labels", false, "make "+randomLabelsFile+" anew with the labeller named by -labeller")
	labellerPath       = flag.String("labeller", "", "the libpcap labeller (scripts/libpcap/label.c, built) for -update-random-labels")
	labellerCommit     = flag.String("libpcap-commit", "", "the commit of the libpcap the labeller is built with, recorded in the labels")
)

// randomLabelsFile holds random expressions (bpftest.RandomExpr) for the
// link types of bpftest.RandomDLTs, the packets built for each, and the
// verdicts libpcap master gave them with its optimizer on and off
// (scripts/libpcap/README.md says how to make it anew).
const randomLabelsFile = "testdata/random-labels.json.gz"

// The labels are made from this seed, randomPerDLT expressions per link
// type.
const (
	randomSeed   = 14
	randomPerDLT = 1000
	// randomSnaplen and randomNetmask are pcap_open_dead's and
	// pcap_compile's arguments for every case.
	randomSnaplen = 262144
	randomNetmask = 0xffffff00
)

// The agreement TestRandomLabels requires: the share of expressions on
// which Compile's program (or error) gives libpcap's verdict on every
// packet, optimizer on and off.
const (
	randomMinOpt   = 0.99
	randomMinUnopt = 0.998
)

// TestRandomLabels compiles each random expression of randomLabelsFile with
// and without the optimizer, runs the programs over the case's packets
// (complete and truncated) and compares the results with libpcap's: the
// same error where libpcap fails ("expression rejects all packets" exactly
// where libpcap says it, division and modulus by zero as libpcap reports
// them), the same verdict on every packet where it compiles.
func TestRandomLabels(t *testing.T) {
	if *updateRandomLabels {
		makeRandomLabels(t)
	}
	l, err := bpftest.ReadLabels(filepath.FromSlash(randomLabelsFile))
	if err != nil {
		t.Fatalf("%v (scripts/libpcap/README.md says how to make it)", err)
	}
	if l.Libpcap == "" || len(l.Cases) == 0 {
		t.Fatalf("%s: no libpcap commit or no cases", randomLabelsFile)
	}
	st := newRandomStats()
	for i := range l.Cases {
		c := &l.Cases[i]
		lt, ok := LinkTypeByName(c.DLT)
		if !ok {
			t.Fatalf("case %d: unknown link type %s", i, c.DLT)
		}
		inputs := c.Inputs()
		for _, noOpt := range []bool{false, true} {
			want := c.Opt
			if noOpt {
				want = c.Unopt
			}
			opts := Options{LinkType: lt, Snaplen: l.Snaplen, Netmask: l.Netmask, NoOptimize: noOpt}
			st.add(c, noOpt, judgeRandom(c.Expr, opts, want, inputs))
		}
	}
	st.report(t, l)
	for _, noOpt := range []bool{false, true} {
		min := randomMinOpt
		if noOpt {
			min = randomMinUnopt
		}
		if got := st.share(noOpt); got < min {
			t.Errorf("%s: %.2f %% of the expressions agree with libpcap, want %.1f %% at least", randomMode(noOpt), 100*got, 100*min)
		}
	}
}

// randomVerdict is the comparison of one case in one mode with libpcap.
type randomVerdict struct {
	category string // "" when they agree
	detail   string
	// Packets compared, and those that differ, complete and truncated.
	complete, truncated       int
	badComplete, badTruncated int
}

// judgeRandom compiles expr with opts and compares the outcome with want.
func judgeRandom(expr string, opts Options, want bpftest.LabelResult, inputs []bpftest.LabelInput) randomVerdict {
	prog, err := confSafeCompile(expr, opts)
	var v randomVerdict
	switch {
	case err != nil && want.Err != "":
		libAll := strings.Contains(want.Err, "expression rejects all packets")
		ourAll := errors.Is(err, ErrRejectsAll)
		switch {
		case libAll && !ourAll:
			v.category, v.detail = "libpcap: rejects all packets; ours another error", err.Error()
		case ourAll && !libAll:
			v.category, v.detail = "ours: rejects all packets; libpcap another error", want.Err
		}
		for _, m := range []string{"division by zero", "modulus by zero", "shift by more than 31 bits"} {
			if strings.Contains(want.Err, m) && !strings.Contains(err.Error(), m) {
				v.category, v.detail = "libpcap: "+m+"; ours another error", err.Error()
			}
		}
		return v
	case err != nil:
		v.category = "ours fails, libpcap compiles"
		if errors.Is(err, ErrRejectsAll) {
			v.category = "ours: rejects all packets, libpcap compiles"
		}
		v.detail = err.Error()
		return v
	case want.Err != "":
		v.category, v.detail = "libpcap fails, ours compiles", want.Err
		for _, m := range []string{"expression rejects all packets", "division by zero", "modulus by zero", "shift by more than 31 bits"} {
			if strings.Contains(want.Err, m) {
				v.category = "libpcap: " + m + ", ours compiles"
			}
		}
		return v
	}
	vm, err := NewVM(prog)
	if err != nil {
		v.category, v.detail = "ours does not load", err.Error()
		return v
	}
	if len(want.Results) != len(inputs) {
		v.category, v.detail = "labels broken", fmt.Sprintf("%d results for %d packets", len(want.Results), len(inputs))
		return v
	}
	first := ""
	for i, in := range inputs {
		got := vm.Run(in.Data, in.Wire, nil)
		bad := got != want.Results[i]
		if in.Truncated {
			v.truncated++
			if bad {
				v.badTruncated++
			}
		} else {
			v.complete++
			if bad {
				v.badComplete++
			}
		}
		if bad && first == "" {
			first = fmt.Sprintf("packet %d (caplen %d wire %d): ours %d, libpcap %d", i, len(in.Data), in.Wire, got, want.Results[i])
		}
	}
	switch {
	case v.badComplete > 0:
		v.category, v.detail = "differs on complete packets", first
	case v.badTruncated > 0:
		v.category, v.detail = "differs on truncated packets only", first
	}
	return v
}

func randomMode(noOpt bool) string {
	if noOpt {
		return "unoptimized"
	}
	return "optimized"
}

// randomStats gathers the figures TestRandomLabels reports.
type randomStats struct {
	cases, agree map[string]int // by mode/DLT
	pkts         map[string]*[4]int
	categories   map[string][]string // by mode/category: examples
}

func newRandomStats() *randomStats {
	return &randomStats{cases: map[string]int{}, agree: map[string]int{}, pkts: map[string]*[4]int{}, categories: map[string][]string{}}
}

func (st *randomStats) add(c *bpftest.LabelCase, noOpt bool, v randomVerdict) {
	for _, k := range []string{randomMode(noOpt) + "/" + c.DLT, randomMode(noOpt) + "/all"} {
		st.cases[k]++
		if v.category == "" {
			st.agree[k]++
		}
		p := st.pkts[k]
		if p == nil {
			p = new([4]int)
			st.pkts[k] = p
		}
		p[0] += v.complete
		p[1] += v.badComplete
		p[2] += v.truncated
		p[3] += v.badTruncated
	}
	if v.category != "" {
		k := randomMode(noOpt) + ": " + v.category
		st.categories[k] = append(st.categories[k], fmt.Sprintf("%s %q: %s", c.DLT, c.Expr, v.detail))
	}
}

func (st *randomStats) share(noOpt bool) float64 {
	k := randomMode(noOpt) + "/all"
	return float64(st.agree[k]) / float64(max(1, st.cases[k]))
}

func (st *randomStats) report(t *testing.T, l *bpftest.Labels) {
	t.Logf("%d random expressions labelled by libpcap %s", len(l.Cases), l.Libpcap)
	keys := make([]string, 0, len(st.cases))
	for k := range st.cases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := st.pkts[k]
		t.Logf("%-24s %4d/%4d expressions agree (%.2f %%); packets: complete %d/%d (%.3f %%), truncated %d/%d (%.3f %%)",
			k, st.agree[k], st.cases[k], 100*float64(st.agree[k])/float64(st.cases[k]),
			p[0]-p[1], p[0], 100*float64(p[0]-p[1])/float64(max(1, p[0])),
			p[2]-p[3], p[2], 100*float64(p[2]-p[3])/float64(max(1, p[2])))
	}
	cats := make([]string, 0, len(st.categories))
	for k := range st.categories {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	for _, k := range cats {
		ex := st.categories[k]
		t.Logf("%s: %d", k, len(ex))
		for _, e := range ex[:min(len(ex), randomExamples)] {
			t.Logf("    %s", e)
		}
	}
}

// randomExamples is how many examples of each kind of difference the test
// logs (-v).
var randomExamples = 5

// makeRandomLabels writes randomLabelsFile anew: it generates the
// expressions and their packets, has the labeller compile and run them
// with libpcap, and keeps its verdicts.
func makeRandomLabels(t *testing.T) {
	if *labellerPath == "" || *labellerCommit == "" {
		t.Fatal("-update-random-labels needs -labeller and -libpcap-commit (see scripts/libpcap/README.md)")
	}
	real := bpftest.RealPackets(t)
	var sll2 [][]byte
	for _, p := range real["LINUX_SLL"] {
		if q := bpftest.ToSLL2(p); q != nil {
			sll2 = append(sll2, q)
		}
	}
	realFor := map[string][][]byte{"EN10MB": real["EN10MB"], "RAW": real["RAW"], "LINUX_SLL2": sll2}
	l := &bpftest.Labels{
		Libpcap:   *labellerCommit,
		Generator: fmt.Sprintf("bpftest.RandomExpr and bpftest.LabelPackets, seed %d, %d expressions per link type (TestRandomLabels)", randomSeed, randomPerDLT),
		Snaplen:   randomSnaplen,
		Netmask:   randomNetmask,
	}
	var in strings.Builder
	for di, dlt := range bpftest.RandomDLTs {
		lt, ok := LinkTypeByName(dlt)
		if !ok {
			t.Fatalf("unknown link type %s", dlt)
		}
		rng := rand.New(rand.NewPCG(randomSeed, uint64(di)))
		for range randomPerDLT {
			expr := bpftest.RandomExpr(rng, dlt)
			raw, _, err := compileRaw(expr, Options{LinkType: lt, Snaplen: randomSnaplen, Netmask: randomNetmask})
			if err != nil {
				raw = nil
			}
			c := bpftest.LabelCase{DLT: dlt, Expr: expr, Packets: bpftest.LabelPackets(rng, raw, realFor[dlt])}
			fmt.Fprintf(&in, "X %s %d %x %s\n", dlt, randomSnaplen, uint32(randomNetmask), expr)
			for _, p := range c.Inputs() {
				fmt.Fprintf(&in, "P %d %x\n", p.Wire, p.Data)
			}
			in.WriteString(".\n")
			l.Cases = append(l.Cases, c)
		}
	}
	cmd := exec.Command(*labellerPath)
	cmd.Stdin = strings.NewReader(in.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("labeller: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<22)
	for i := range l.Cases {
		for _, r := range []*bpftest.LabelResult{&l.Cases[i].Opt, &l.Cases[i].Unopt} {
			if !sc.Scan() {
				t.Fatalf("labeller: output ends at case %d", i)
			}
			if err := parseLabelLine(sc.Text(), r, len(l.Cases[i].Inputs())); err != nil {
				t.Fatalf("labeller, case %d (%q): %v", i, l.Cases[i].Expr, err)
			}
		}
	}
	if err := bpftest.WriteLabels(filepath.FromSlash(randomLabelsFile), l); err != nil {
		t.Fatal(err)
	}
}

// parseLabelLine reads one line of the labeller's output: "O ok r1 r2
// ..." or "O err message" (U for the unoptimized program).
func parseLabelLine(line string, r *bpftest.LabelResult, n int) error {
	f := strings.Fields(line)
	if len(f) < 2 {
		return fmt.Errorf("bad line %q", line)
	}
	switch f[1] {
	case "err":
		r.Err = strings.TrimSpace(strings.SplitN(line, " err ", 2)[1])
		return nil
	case "ok":
		for _, s := range f[2:] {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return fmt.Errorf("bad result %q", s)
			}
			r.Results = append(r.Results, uint32(v))
		}
		if len(r.Results) != n {
			return fmt.Errorf("%d results for %d packets", len(r.Results), n)
		}
		r.Results = slices.Clip(r.Results)
		return nil
	}
	return fmt.Errorf("bad line %q", line)
}
