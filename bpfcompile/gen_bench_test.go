package bpfcompile

import (
	"runtime"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// genLayout parses, generates and lays out expr without Compile's size
// guards, so the front end's own cost on huge inputs can be measured.
func genLayout(tb testing.TB, expr string) int {
	tb.Helper()
	node, _, err := parse(expr)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := newGen(expr, Options{LinkType: LinkTypeEthernet})
	if err != nil {
		tb.Fatal(err)
	}
	_, blocks := sizePrimitives(node)
	g.reserve(blocks)
	f, err := g.generate(node)
	if err != nil {
		tb.Fatal(err)
	}
	root := g.finish(g.finishParse(f), defaultSnaplen)
	raw, err := g.layout(root)
	if err != nil {
		tb.Fatal(err)
	}
	return len(raw)
}

// BenchmarkGenLayout measures parsing, code generation and layout (no
// optimizer, no size guards) of long port and host chains.
func BenchmarkGenLayout(b *testing.B) {
	exprs := []struct{ name, expr string }{
		{"ports=100", bpftest.PortChain(100)},
		{"hosts=100", bpftest.HostChain(100, false)},
		{"ports=800", bpftest.PortChain(800)},
		{"ports=3200", bpftest.PortChain(3200)},
	}
	for _, e := range exprs {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = genLayout(b, e.expr)
			}
			b.ReportMetric(float64(n), "insns")
		})
	}
}

// TestGenLayoutLinear checks that generating and laying out a program
// grows about linearly: a port chain 4 times longer may allocate at most 8
// times as much (about 4 when linear; joining the exit lists and laying
// out anew for each long jump made it 16 or more), and the longest chain,
// over 50,000 instructions, lays out in well under the time bound (tens of
// milliseconds; the old layout gave up after minutes).
func TestGenLayoutLinear(t *testing.T) {
	alloc := func(n int) (uint64, int, time.Duration) {
		expr := bpftest.PortChain(n)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		start := time.Now()
		insns := genLayout(t, expr)
		took := time.Since(start)
		runtime.ReadMemStats(&ms)
		return ms.TotalAlloc - before, insns, took
	}
	small, ns, _ := alloc(400)
	big, nb, took := alloc(1600)
	t.Logf("400 ports: %d instructions, %d KiB; 1600 ports: %d instructions, %d KiB, %v", ns, small>>10, nb, big>>10, took)
	if nb < 50000 {
		t.Fatalf("only %d instructions: the test needs long jumps aplenty", nb)
	}
	if big > 8*small {
		t.Errorf("allocation grew %.1f-fold for a 4-fold longer chain", float64(big)/float64(small))
	}
	if took > 2*time.Second {
		t.Errorf("took %v", took)
	}
}

// BenchmarkCompileLong measures Compile, optimizer included, on long
// generated expressions.
func BenchmarkCompileLong(b *testing.B) {
	for _, e := range bpftest.LongExprs() {
		for _, noOpt := range []bool{true, false} {
			name := e.Name + "/opt"
			if noOpt {
				name = e.Name + "/unopt"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Compile(e.Expr, Options{LinkType: LinkTypeEthernet, NoOptimize: noOpt}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
