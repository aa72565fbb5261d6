package bpfcompile

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"
)

// optFullWork returns the work the optimizer does on prog without a budget.
func optFullWork(tb testing.TB, prog []bpf.Instruction) int {
	tb.Helper()
	raw := optRaw(tb, prog)
	g, err := optBuildCFG(raw)
	if err != nil {
		tb.Fatal(err)
	}
	t := newOptValues()
	if _, err := optimizeCFG(g, t); err != nil && !strings.Contains(err.Error(), errOptUninitScratch.Error()) {
		tb.Fatal(err)
	}
	return t.work
}

// TestOptimizeBudget stops the optimizer at several points of its work on
// corpus programs and long expressions: whatever it returns must pass the
// checker, be no longer than its input and return what the input returns
// on generated packets; with enough budget it returns what optimize does.
func TestOptimizeBudget(t *testing.T) {
	var progs [][]bpf.Instruction
	for i, c := range optLoadAccept(t) {
		if i%7 != 0 {
			continue
		}
		p, err := ParseListing(c.ExpectedUnopt)
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	for _, e := range optLongExprs() {
		if strings.HasSuffix(e.name, "=100") {
			continue // the smaller ones have the same shape
		}
		p, err := Compile(e.expr, Options{LinkType: LinkTypeEthernet, NoOptimize: true})
		if err != nil {
			t.Fatal(err)
		}
		progs = append(progs, p)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	cut := 0
	for i, prog := range progs {
		full := optFullWork(t, prog)
		want, err := optimize(prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, budget := range []int{1, full / 8, full / 3, full / 2, full * 3 / 4, full - 1, full + 1} {
			if budget < 1 {
				continue
			}
			got, broken, err := optimizeReport(prog, budget)
			if err != nil {
				t.Fatalf("program %d, budget %d of %d: %v", i, budget, full, err)
			}
			if broken {
				t.Fatalf("program %d, budget %d of %d: the optimized program fails the checker", i, budget, full)
			}
			if len(got) > len(prog) {
				t.Fatalf("program %d, budget %d of %d: %d instructions, input %d", i, budget, full, len(got), len(prog))
			}
			if Check(prog) == nil {
				if err := Check(got); err != nil {
					t.Fatalf("program %d, budget %d of %d: %v", i, budget, full, err)
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
			optSameResults(t, prog, got, rng, 60)
		}
	}
	t.Logf("%d programs, %d runs stopped short with a longer program than a full run", len(progs), cut)
}

// optWorstExprs are expressions near the compiler's size guards whose full
// optimization costs the most work per instruction.
func optWorstExprs() []optLongExpr {
	var b strings.Builder
	for i := 0; i < 500; i++ {
		if i > 0 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "ip[%d:%d] != %d", i/3, []int{1, 2, 4}[i%3], i)
	}
	return []optLongExpr{
		{"distinct-tests=500", b.String()},
		{"ports=250", optPortChain(250)},
		{"hostsmixed=250", optHostChain(250, true)},
	}
}

// TestOptimizeBounded checks that the work budget holds on expressions
// whose full optimization costs more: the optimizer stops within its
// budget (plus the passes that run between two checks) and returns a
// valid program.
func TestOptimizeBounded(t *testing.T) {
	for _, e := range optWorstExprs() {
		t.Run(e.name, func(t *testing.T) {
			raw, _, err := compileRaw(e.expr, Options{LinkType: LinkTypeEthernet})
			if err != nil {
				t.Fatal(err)
			}
			g, err := optBuildCFG(raw)
			if err != nil {
				t.Fatal(err)
			}
			v := newOptValues()
			v.budget = optBudget(len(raw))
			start := time.Now()
			out, err := optimizeCFG(g, v)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d -> %d instructions, work %d of budget %d, %d rounds, %v", len(raw), len(out), v.work, v.budget, v.rounds, took)
			if v.work > 2*v.budget {
				t.Errorf("work %d, more than twice the budget %d", v.work, v.budget)
			}
			if err := checkRaw(out); err != nil && len(out) <= maxInstructions {
				t.Errorf("checker: %v", err)
			}
			in, got := optInstructions(raw), optInstructions(out)
			optSameResults(t, in, got, rand.New(rand.NewPCG(5, 6)), 100)
		})
	}
}

// TestCompileSizeGuards checks that Compile refuses expressions too big
// for the kernel with ErrTooLong's message, before generating or laying
// out huge programs: quickly and in bounded memory.
func TestCompileSizeGuards(t *testing.T) {
	var ports, prims strings.Builder
	ports.WriteString("port 1")
	for i := 2; ports.Len() < 8180; i++ { // the daemon takes filters up to 8 KiB
		fmt.Fprintf(&ports, " or %d", i%10)
	}
	prims.WriteString("ip[0] = 0")
	for i := 1; i <= maxPrimitives; i++ {
		fmt.Fprintf(&prims, " or ip[0] = %d", i%256)
	}
	tests := []struct {
		name, expr string
		want       string // in the error; "" for success
	}{
		{"8KiB of ports", ports.String(), "more than 8192 instructions before optimization"},
		{"too many primitives", prims.String(), "4097 primitives"},
		{"optimized program too long", optPortChain(200), "more than the kernel's 4096"},
		{"long before optimization, fits after", optHostChain(250, true), ""},
		{"8KiB of colons", strings.Repeat(":", 8000) + "ta", "more than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			start := time.Now()
			prog, err := Compile(tt.expr, Options{LinkType: LinkTypeEthernet})
			took := time.Since(start)
			runtime.ReadMemStats(&ms)
			alloc := (ms.TotalAlloc - before) >> 20
			t.Logf("%d instructions, %v, %v, %d MiB allocated", len(prog), err, took, alloc)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(prog) > maxInstructions {
					t.Fatalf("%d instructions", len(prog))
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			if alloc > 512 {
				t.Errorf("%d MiB allocated", alloc)
			}
		})
	}
}
