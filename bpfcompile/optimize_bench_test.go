package bpfcompile

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// optLongExpr is a generated expression of a shape that stresses the
// optimizer: long chains of alternatives, long conjunctions with negations,
// deep nesting.
type optLongExpr struct {
	name string
	expr string
}

// optPortChain is "port 1 or port 2 or ... or port n".
func optPortChain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("port %d", i+1)
	}
	return strings.Join(parts, " or ")
}

// optHostChain is "host H0 and not host H1 and not host H2 ...", n hosts
// in all; mixed makes it "host H0 and not host H1 or host H2 and not host
// H3 ...".
func optHostChain(n int, mixed bool) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		switch {
		case i == 0:
		case mixed && i%2 == 0:
			b.WriteString(" or ")
		default:
			b.WriteString(" and not ")
		}
		fmt.Fprintf(&b, "host 198.18.%d.%d", i/250, i%250+1)
	}
	return b.String()
}

// optNested is n levels of "((a or b) and (c or d))" with a fresh port and
// host at every level.
func optNested(n int) string {
	e := "tcp port 1"
	for i := 0; i < n; i++ {
		e = fmt.Sprintf("((%s or udp port %d) and (host 198.18.0.%d or not icmp))", e, i+2, i%250+1)
	}
	return e
}

func optLongExprs() []optLongExpr {
	var out []optLongExpr
	for _, n := range []int{10, 40, 100} {
		out = append(out, optLongExpr{fmt.Sprintf("ports=%d", n), optPortChain(n)})
	}
	for _, n := range []int{10, 40, 100} {
		out = append(out, optLongExpr{fmt.Sprintf("hosts=%d", n), optHostChain(n, false)})
	}
	out = append(out, optLongExpr{"hostsmixed=40", optHostChain(40, true)})
	for _, n := range []int{5, 10, 20} {
		out = append(out, optLongExpr{fmt.Sprintf("nested=%d", n), optNested(n)})
	}
	return out
}

// BenchmarkCompileLong measures Compile, optimizer included, on long
// generated expressions.
func BenchmarkCompileLong(b *testing.B) {
	for _, e := range optLongExprs() {
		for _, noOpt := range []bool{true, false} {
			name := e.name + "/opt"
			if noOpt {
				name = e.name + "/unopt"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Compile(e.expr, Options{LinkType: LinkTypeEthernet, NoOptimize: noOpt}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestOptimizeLongExprs checks that the optimizer finishes the long
// generated expressions in bounded time, with a program that passes the
// kernel's checker, is no longer than the unoptimized one and returns what
// it returns on generated packets.
func TestOptimizeLongExprs(t *testing.T) {
	for _, e := range optLongExprs() {
		t.Run(e.name, func(t *testing.T) {
			unopt, err := Compile(e.expr, Options{LinkType: LinkTypeEthernet, NoOptimize: true})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			got, err := Compile(e.expr, Options{LinkType: LinkTypeEthernet})
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
			if err := Check(got); err != nil {
				t.Fatalf("checker: %v", err)
			}
			if len(got) > len(unopt) {
				t.Fatalf("optimized %d instructions, unoptimized %d", len(got), len(unopt))
			}
			optSameResults(t, unopt, got, rand.New(rand.NewPCG(uint64(len(e.expr)), 5)), 300)
		})
	}
}
