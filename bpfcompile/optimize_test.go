package bpfcompile

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
)

// optKnownFailures reads testdata/optimize_known_failures.txt: one label a
// line, then the reason.
func optKnownFailures(tb testing.TB) map[string]string {
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

// optRun runs prog on every packet with the project's VM.
func optRun(tb testing.TB, prog []bpf.Instruction, pkts []optPacket) []uint32 {
	tb.Helper()
	vm, err := NewVM(prog)
	if err != nil {
		tb.Fatalf("NewVM: %v", err)
	}
	res := make([]uint32, len(pkts))
	for i, p := range pkts {
		res[i] = vm.Run(p.data, p.wireLen, p.meta)
	}
	return res
}

func optRaw(tb testing.TB, prog []bpf.Instruction) []bpf.RawInstruction {
	tb.Helper()
	raw, err := optAssemble(prog)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// TestOptimizeCorpus optimizes the unoptimized program of every accept
// entry of the conformance corpus and checks that the result is valid for
// the kernel, returns what the unoptimized program returns on every
// generated packet, and is no longer than libpcap's optimized program.
func TestOptimizeCorpus(t *testing.T) {
	cases := optLoadAccept(t)
	real := optLoadRealPackets(t, 300)
	known := optKnownFailures(t)
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
		unopt, err := ParseListing(c.ExpectedUnopt)
		if err != nil {
			t.Fatalf("%s: %v", c.Label, err)
		}
		total++
		got, err := optimize(unopt)
		if err != nil {
			failed[c.Label] = fmt.Sprintf("optimize: %v", err)
			continue
		}
		rawIn := optRaw(t, unopt)
		if Check(unopt) == nil {
			// Valid for the kernel in, valid out.
			if err := Check(got); err != nil {
				failed[c.Label] = fmt.Sprintf("checker: %v", err)
			}
		}
		rng := rand.New(rand.NewPCG(uint64(ci), 7))
		pkts := optGenPackets(rng, rawIn, real[c.DLT], c.LinuxExt || strings.Contains(c.ExpectedUnopt, "[v"), pktsPer)
		want := optRun(t, unopt, pkts)
		have := optRun(t, got, pkts)
		mism := 0
		for i := range want {
			if want[i] != have[i] {
				if mism == 0 {
					failed[c.Label] = fmt.Sprintf("packet %d (%d bytes, wire %d, meta %v): unopt %d, optimized %d",
						i, len(pkts[i].data), pkts[i].wireLen, pkts[i].meta != nil, want[i], have[i])
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
		lib, err := ParseListing(*c.ExpectedOpt)
		if err != nil {
			t.Fatalf("%s: %v", c.Label, err)
		}
		withOpt++
		if slices.Compare(optRun(t, lib, pkts), want) != 0 {
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
		shorterOrEqual, withOpt, shorter, median, optMean(ratios), worst, worstLabel)
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

func optMean(xs []float64) float64 {
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
	known := optKnownFailures(t)
	byLabel := map[string]optAcceptCase{}
	for _, c := range optLoadAccept(t) {
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
			unopt, err := ParseListing(c.ExpectedUnopt)
			if err != nil {
				t.Fatal(err)
			}
			lib, err := ParseListing(*c.ExpectedOpt)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := optimize(unopt)
			if err != nil {
				t.Fatal(err)
			}
			raw := optRaw(t, unopt)
			vu, _ := NewVM(unopt)
			vl, _ := NewVM(lib)
			vo, _ := NewVM(ours)
			rng := rand.New(rand.NewPCG(11, 13))
			probes := optProbes(rng, raw)
			var cuts []int
			for _, p := range probes {
				if p.mode == optModeABS && p.off < 4096 {
					for d := 0; d <= p.size; d++ {
						cuts = append(cuts, int(p.off)+d)
					}
				}
			}
			cuts = append(cuts, 0, 1)
			for i := 0; i < 40000; i++ {
				pkt := make([]byte, 128)
				for _, p := range probes {
					if len(p.vals) > 0 && p.mode == optModeABS && p.off < 128 {
						v := p.vals[rng.IntN(len(p.vals))]
						switch p.size {
						case 1:
							pkt[p.off] = byte(v)
						case 2:
							pkt[p.off], pkt[p.off+1] = byte(v>>8), byte(v)
						case 4:
							pkt[p.off], pkt[p.off+1], pkt[p.off+2], pkt[p.off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
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
