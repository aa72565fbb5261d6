package bpfcompile

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkZZProf(b *testing.B) {
	var sb strings.Builder
	for i := 1; i <= 200; i++ {
		if i > 1 {
			sb.WriteString(" or ")
		}
		fmt.Fprintf(&sb, "tcp[%d:2] & 0x%x != 0 and len > %d", i%20, i, i)
	}
	exprs := map[string]string{"tcpand": sb.String(), "hostsmixed250": optHostChain(250, true)}
	for name, e := range exprs {
		raw, _, err := compileRaw(e, Options{LinkType: LinkTypeEthernet})
		if err != nil {
			b.Fatal(err)
		}
		prog := optInstructions(raw)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				optimizeWithin(prog, 0)
			}
		})
	}
}
