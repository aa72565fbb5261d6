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
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
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
// the kernel, returns what the unoptimized program returns on every
// generated packet, and is no longer than libpcap's optimized program.
func TestOptimizeCorpus(t *testing.T) {
	cases := bpftest.Accept(t)
	real := bpftest.RealPackets(t)
	known := knownFailures(t)
	pktsPer := 240
	if testing.Short() {
		pktsPer = 60
	}
	var (
		total, equivalent, shorterOrEqual, withOpt int
		shorter                                    int
		rejectsAll, rejectsExpected                int
		libpcapDiffers                             int
		ratios                                     []float64
		worstLabel                                 string
		worstRatio                                 float64
		libpcapDiffLabels                          []string
		failed                                     = map[string]string{}
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
		mism := 0
		for i := range want {
			if want[i] != have[i] {
				if mism == 0 {
					failed[c.Label] = fmt.Sprintf("packet %d (%d bytes, wire %d, meta %v): unopt %d, optimized %d",
						i, len(pkts[i].Data), pkts[i].WireLen, pkts[i].Meta != nil, want[i], have[i])
				}
				mism++
			}
		}
		if mism == 0 {
			equivalent++
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
		if slices.Compare(run(t, lib, pkts), want) != 0 {
			libpcapDiffers++
			libpcapDiffLabels = append(libpcapDiffLabels, c.Label)
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
	t.Logf("%d accept entries: %d equivalent to the unoptimized program on %d packets each", total, equivalent, pktsPer)
	t.Logf("%d of %d no longer than libpcap's optimized program (%d shorter); length ratio ours/libpcap median %.3f, mean %.3f, worst %.3f (%s)",
		shorterOrEqual, withOpt, shorter, median, mean(ratios), worst, worstLabel)
	t.Logf("%d of %d optimizer_rejects entries optimized to ret #0", rejectsAll, rejectsExpected)
	t.Logf("libpcap's optimized program differs from its unoptimized one on some packet for %d entries %v", libpcapDiffers, libpcapDiffLabels)
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

// TestOptimizeKnownFailures backs every "libpcap-inexact" entry of the
// known-failures list: it searches packets cut at every field boundary the
// program reads for one on which libpcap's optimized program and the
// unoptimized one disagree, and checks that ours agrees with the latter.
func TestOptimizeKnownFailures(t *testing.T) {
	known := knownFailures(t)
	byLabel := map[string]bpftest.AcceptCase{}
	for _, c := range bpftest.Accept(t) {
		byLabel[c.Label] = c
	}
	for label, reason := range known {
		if !strings.HasPrefix(reason, "libpcap-inexact") {
			continue
		}
		t.Run(label, func(t *testing.T) {
			c, ok := byLabel[label]
			if !ok || c.ExpectedOpt == nil {
				t.Fatalf("no accept entry %s with an optimized program", label)
			}
			unopt, err := bpftest.ParseListing(c.ExpectedUnopt)
			if err != nil {
				t.Fatal(err)
			}
			lib, err := bpftest.ParseListing(*c.ExpectedOpt)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := optimize(unopt)
			if err != nil {
				t.Fatal(err)
			}
			raw := assemble(t, unopt)
			vu, _ := bpfcompile.NewVM(unopt)
			vl, _ := bpfcompile.NewVM(lib)
			vo, _ := bpfcompile.NewVM(ours)
			rng := rand.New(rand.NewPCG(11, 13))
			probes := bpftest.Probes(rng, raw)
			var cuts []int
			for _, p := range probes {
				if p.Mode == cbpf.ABS && p.Off < 4096 {
					for d := 0; d <= p.Size; d++ {
						cuts = append(cuts, int(p.Off)+d)
					}
				}
			}
			cuts = append(cuts, 0, 1)
			for i := 0; i < 40000; i++ {
				pkt := make([]byte, 128)
				for _, p := range probes {
					if len(p.Vals) > 0 && p.Mode == cbpf.ABS && p.Off < 128 {
						v := p.Vals[rng.IntN(len(p.Vals))]
						switch p.Size {
						case 1:
							pkt[p.Off] = byte(v)
						case 2:
							pkt[p.Off], pkt[p.Off+1] = byte(v>>8), byte(v)
						case 4:
							pkt[p.Off], pkt[p.Off+1], pkt[p.Off+2], pkt[p.Off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
						}
					}
				}
				for _, cut := range cuts {
					data := pkt[:min(cut, len(pkt))]
					u, l, o := vu.Run(data, len(pkt), nil), vl.Run(data, len(pkt), nil), vo.Run(data, len(pkt), nil)
					if o != u {
						t.Fatalf("ours differs from the unoptimized program on %x: %d, want %d", data, o, u)
					}
					if l != u {
						t.Logf("libpcap's program returns %d, the unoptimized one %d, on %d bytes %x", l, u, len(data), data)
						return
					}
				}
			}
			t.Errorf("no packet found on which libpcap's optimized program differs: is %q still a reason?", reason)
		})
	}
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
