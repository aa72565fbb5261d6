package bpfcompile

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestZZExplore(t *testing.T) {
	var exprs []string
	exprs = append(exprs, optPortChain(130))
	var b strings.Builder
	for i := 1; i <= 300; i++ {
		if i > 1 {
			b.WriteString(" and ")
		}
		fmt.Fprintf(&b, "not port %d", i)
	}
	exprs = append(exprs, b.String())
	b.Reset()
	for i := 1; i <= 300; i++ {
		if i > 1 {
			b.WriteString(" or ")
		}
		fmt.Fprintf(&b, "ip[%d] = %d", i%40, i)
	}
	exprs = append(exprs, b.String())
	b.Reset()
	for i := 1; i <= 200; i++ {
		if i > 1 {
			b.WriteString(" or ")
		}
		fmt.Fprintf(&b, "tcp[%d:2] & 0x%x != 0 and len > %d", i%20, i, i)
	}
	exprs = append(exprs, b.String())
	exprs = append(exprs, optNested(60), optHostChain(250, true))
	for _, f := range exprs {
		raw, _, err := compileRaw(f, Options{LinkType: LinkTypeEthernet})
		if err != nil {
			t.Log(err)
			continue
		}
		g, _ := optBuildCFG(raw)
		v := newOptValues()
		start := time.Now()
		out, err := optimizeCFG(g, v)
		d := time.Since(start)
		t.Logf("%5d -> %5d %v: rounds %d analyses %d work %8d (%4.0f/insn) %v %.1fns/unit", len(raw), len(out), err, v.rounds, v.analyses, v.work, float64(v.work)/float64(len(raw)), d, float64(d.Nanoseconds())/float64(v.work))
	}
}
