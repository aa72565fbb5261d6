package bpfcompile

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// worstExprs are expressions near the compiler's size guards whose full
// optimization costs the most work per instruction.
func worstExprs() []bpftest.LongExpr {
	var b strings.Builder
	for i := 0; i < 500; i++ {
		if i > 0 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "ip[%d:%d] != %d", i/3, []int{1, 2, 4}[i%3], i)
	}
	return []bpftest.LongExpr{
		{Name: "distinct-tests=500", Expr: b.String()},
		{Name: "ports=250", Expr: bpftest.PortChain(250)},
		{Name: "hostsmixed=250", Expr: bpftest.HostChain(250, true)},
	}
}

// TestOptimizeBounded checks that the work budget holds on expressions
// whose full optimization costs more: the optimizer stops within its
// budget (plus the passes that run between two checks) and returns a
// valid program.
func TestOptimizeBounded(t *testing.T) {
	for _, e := range worstExprs() {
		t.Run(e.Name, func(t *testing.T) {
			raw, _, err := compileRaw(e.Expr, Options{LinkType: LinkTypeEthernet})
			if err != nil {
				t.Fatal(err)
			}
			in := toInstructions(raw)
			budget := opt.Budget(len(in))
			start := time.Now()
			got, st, err := opt.Optimize(in, budget)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d -> %d instructions, work %d of budget %d, %d rounds, %v", len(in), len(got), st.Work, budget, st.Rounds, took)
			if st.Work > 2*budget {
				t.Errorf("work %d, more than twice the budget %d", st.Work, budget)
			}
			if err := Check(got); err != nil && len(got) <= maxInstructions {
				t.Errorf("checker: %v", err)
			}
			sameResults(t, in, got, rand.New(rand.NewPCG(5, 6)), 100)
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
		{"8KiB of ports", ports.String(), fmt.Sprintf("more than %d instructions before optimization", maxRawInstructions)},
		{"too many primitives", prims.String(), "4097 primitives"},
		{"optimized program too long", bpftest.MACChain(1100), "more than the kernel's 4096"},
		{"200 ports fit", bpftest.PortChain(200), ""},
		{"long before optimization, fits after", bpftest.HostChain(250, true), ""},
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
