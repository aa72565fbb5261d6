package opt_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// fullWork returns the work the optimizer does on prog without a budget.
func fullWork(tb testing.TB, prog []bpf.Instruction) int {
	tb.Helper()
	_, st, err := opt.Optimize(prog, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return st.Work
}

// TestOptimizeBudget stops the optimizer at several points of its work on
// corpus programs and long expressions: whatever it returns must pass the
// checker, be no longer than its input and return what the input returns
// on generated packets; with enough budget it returns what optimize does.
func TestOptimizeBudget(t *testing.T) {
	var progs [][]bpf.Instruction
	for i, c := range bpftest.Accept(t) {
		if i%7 != 0 {
			continue
		}
		p, err := bpftest.ParseListing(c.ExpectedUnopt)
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	for _, e := range bpftest.LongExprs() {
		if strings.HasSuffix(e.Name, "=100") {
			continue // the smaller ones have the same shape
		}
		p, err := bpfcompile.Compile(e.Expr, bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet, NoOptimize: true})
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	cut := 0
	for i, prog := range progs {
		full := fullWork(t, prog)
		want, err := optimize(prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, budget := range []int{1, full / 8, full / 3, full / 2, full * 3 / 4, full - 1, full + 1} {
			if budget < 1 {
				continue
			}
			got, _, err := opt.Optimize(prog, budget)
			if err != nil {
				t.Fatalf("program %d, budget %d of %d: %v", i, budget, full, err)
			}
			if len(got) > len(prog) {
				t.Fatalf("program %d, budget %d of %d: %d instructions, input %d", i, budget, full, len(got), len(prog))
			}
			if bpfcompile.Check(prog) == nil {
				if err := bpfcompile.Check(got); err != nil {
					t.Fatalf("program %d, budget %d of %d: the optimized program fails the checker: %v", i, budget, full, err)
				}
			}
			if budget > full {
				if !slices.Equal(got, want) {
					t.Fatalf("program %d: budget %d above the %d needed, result differs from optimize", i, budget, full)
				}
				continue
			}
			if len(got) > len(want) {
				cut++
			}
			sameResults(t, prog, got, rng, 60)
		}
	}
	t.Logf("%d programs, %d runs stopped short with a longer program than a full run", len(progs), cut)
}

// TestOptimizeLongExprs checks that the optimizer finishes the long
// generated expressions in bounded time, with a program that passes the
// kernel's checker, is no longer than the unoptimized one and returns what
// it returns on generated packets.
func TestOptimizeLongExprs(t *testing.T) {
	for _, e := range bpftest.LongExprs() {
		t.Run(e.Name, func(t *testing.T) {
			unopt, err := bpfcompile.Compile(e.Expr, bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet, NoOptimize: true})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			got, err := bpfcompile.Compile(e.Expr, bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet})
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d -> %d instructions in %v", len(unopt), len(got), took)
			// Generous against a loaded CI machine; the benchmark holds the
			// real figures.
			if took > 2*time.Second {
				t.Errorf("optimizing took %v", took)
			}
			if err := bpfcompile.Check(got); err != nil {
				t.Fatalf("checker: %v", err)
			}
			if len(got) > len(unopt) {
				t.Fatalf("optimized %d instructions, unoptimized %d", len(got), len(unopt))
			}
			sameResults(t, unopt, got, rand.New(rand.NewPCG(uint64(len(e.Expr)), 5)), 300)
		})
	}
}
