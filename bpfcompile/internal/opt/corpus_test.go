package opt_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// knownFailures reads testdata/optimize_known_failures.txt: one label a
// line, then the reason.
func knownFailures(tb testing.TB) map[string]string {
	tb.Helper()
	known := map[string]string{}
	f, err := os.Open(filepath.Join("testdata", "optimize_known_failures.txt"))
	if os.IsNotExist(err) {
		return known
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, reason, _ := strings.Cut(line, " ")
		known[label] = strings.TrimSpace(reason)
	}
	return known
}

// TestOptimizeCorpus optimizes the unoptimized program of every accept
// entry of the conformance corpus and checks that the result is valid for
// the kernel, returns what libpcap's optimized program returns on every
// generated packet (complete ones and ones cut short: where libpcap's
// optimizer changes a result, ours changes it the same way), returns what
// the unoptimized program returns wherever that runs to a return, is
// "ret #0" where libpcap's optimizer finds that every packet is rejected,
// and is no longer than libpcap's optimized program.
func TestOptimizeCorpus(t *testing.T) {
	cases := bpftest.Accept(t)
	real := bpftest.RealPackets(t)
	known := knownFailures(t)
	pktsPer := 240
	if testing.Short() {
		pktsPer = 60
	}
	var (
		total, asLibpcap, shorterOrEqual, withOpt int
		shorter                                   int
		rejectsAll, rejectsExpected               int
		libpcapDiffers                            int
		ratios                                    []float64
		worstLabel                                string
		worstRatio                                float64
		failed                                    = map[string]string{}
	)
	for ci, c := range cases {
		unopt, err := bpftest.ParseListing(c.ExpectedUnopt)
		if err != nil {
			t.Fatalf("%s: %v", c.Label, err)
		}
		total++
		got, err := optimize(unopt)
		if err != nil {
			failed[c.Label] = fmt.Sprintf("optimize: %v", err)
			continue
		}
		rawIn := assemble(t, unopt)
		if bpfcompile.Check(unopt) == nil {
			// Valid for the kernel in, valid out.
			if err := bpfcompile.Check(got); err != nil {
				failed[c.Label] = fmt.Sprintf("checker: %v", err)
			}
		}
		rng := rand.New(rand.NewPCG(uint64(ci), 7))
		pkts := bpftest.Packets(rng, rawIn, real[c.DLT], c.LinuxExt || strings.Contains(c.ExpectedUnopt, "[v"), pktsPer)
		want := run(t, unopt, pkts)
		have := run(t, got, pkts)
		for i := range want {
			if want[i] != have[i] && !bpftest.Faults(rawIn, pkts[i].Data, pkts[i].WireLen, pkts[i].Meta) {
				failed[c.Label] = fmt.Sprintf("packet %d (%d bytes, wire %d, meta %v): unopt %d, optimized %d, and the unoptimized program runs to a return",
					i, len(pkts[i].Data), pkts[i].WireLen, pkts[i].Meta != nil, want[i], have[i])
				break
			}
		}
		if c.OptimizerRejects && c.Expr != "_enumerate_bpf_image" {
			rejectsExpected++
			if len(got) == 1 && got[0] == (bpf.RetConstant{Val: 0}) {
				rejectsAll++
			} else if _, bad := failed[c.Label]; !bad {
				failed[c.Label] = fmt.Sprintf("libpcap rejects all packets, optimized to %d instructions", len(got))
			}
		}
		if c.ExpectedOpt == nil {
			continue
		}
		lib, err := bpftest.ParseListing(*c.ExpectedOpt)
		if err != nil {
			t.Fatalf("%s: %v", c.Label, err)
		}
		withOpt++
		libRes := run(t, lib, pkts)
		if slices.Compare(libRes, want) != 0 {
			libpcapDiffers++
		}
		mism := 0
		for i := range libRes {
			if libRes[i] != have[i] {
				if mism == 0 {
					if _, bad := failed[c.Label]; !bad {
						failed[c.Label] = fmt.Sprintf("packet %d (%d bytes, wire %d, meta %v): libpcap's optimized program %d, ours %d",
							i, len(pkts[i].Data), pkts[i].WireLen, pkts[i].Meta != nil, libRes[i], have[i])
					}
				}
				mism++
			}
		}
		if mism == 0 {
			asLibpcap++
		}
		r := float64(len(got)) / float64(len(lib))
		ratios = append(ratios, r)
		if len(got) < len(lib) {
			shorter++
		}
		if len(got) <= len(lib) {
			shorterOrEqual++
		} else if _, bad := failed[c.Label]; !bad {
			failed[c.Label] = fmt.Sprintf("%d instructions, libpcap %d", len(got), len(lib))
		}
		if r > worstRatio {
			worstLabel, worstRatio = c.Label, r
		}
	}
	sort.Float64s(ratios)
	median, worst := 0.0, 0.0
	if len(ratios) > 0 {
		median, worst = ratios[len(ratios)/2], ratios[len(ratios)-1]
	}
	t.Logf("%d accept entries, %d with libpcap's optimized program: ours returns what it returns on all %d packets for %d", total, withOpt, pktsPer, asLibpcap)
	t.Logf("libpcap's optimized program differs from its unoptimized one on some packet for %d entries", libpcapDiffers)
	t.Logf("%d of %d no longer than libpcap's optimized program (%d shorter); length ratio ours/libpcap median %.3f, mean %.3f, worst %.3f (%s)",
		shorterOrEqual, withOpt, shorter, median, mean(ratios), worst, worstLabel)
	t.Logf("%d of %d optimizer_rejects entries optimized to ret #0", rejectsAll, rejectsExpected)
	labels := make([]string, 0, len(failed))
	for l := range failed {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		if reason, ok := known[l]; ok {
			t.Logf("known failure %s: %s (listed: %s)", l, failed[l], reason)
			continue
		}
		t.Errorf("%s: %s", l, failed[l])
	}
	for l := range known {
		if _, ok := failed[l]; !ok {
			t.Errorf("listed in testdata/optimize_known_failures.txt but passes now: %s", l)
		}
	}
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// TestOptimizeShow prints the programs of the corpus entry named by
// $OPTLABEL: unoptimized, libpcap's optimized and ours (a debugging aid).
func TestOptimizeShow(t *testing.T) {
	want := os.Getenv("OPTLABEL")
	if want == "" {
		t.Skip("set OPTLABEL to a corpus accept label")
	}
	for _, c := range bpftest.Accept(t) {
		if c.Label != want {
			continue
		}
		unopt, err := bpftest.ParseListing(c.ExpectedUnopt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := optimize(unopt)
		if err != nil {
			t.Fatal(err)
		}
		lib := "(rejects all)"
		if c.ExpectedOpt != nil {
			lib = strings.TrimSpace(*c.ExpectedOpt)
		}
		t.Logf("%s\n--unopt\n%s\n--libpcap\n%s\n--ours\n%s", c.Expr, c.ExpectedUnopt, lib, listing(t, got))
	}
}
