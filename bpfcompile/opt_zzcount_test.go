package bpfcompile

import (
	"os"
	"sort"
	"testing"
	"time"
)

func TestZZCount(t *testing.T) {
	if os.Getenv("ZZCOUNT") == "" {
		t.Skip()
	}
	exprs := []string{
		"tcp port 443 and host 198.18.0.7",
		"vlan 20 and (icmp or ip6[40] == 128)",
		"udp and (port 53 or port 123) and not net 10.0.0.0/8",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 198.18.0.0/15",
		"host 198.18.0.1 or 198.18.0.2 or 198.18.0.3",
	}
	for _, e := range optLongExprs() {
		exprs = append(exprs, e.expr)
	}
	for _, f := range exprs {
		raw, _, err := compileRaw(f, Options{LinkType: LinkTypeEthernet})
		if err != nil {
			t.Fatal(err)
		}
		g, _ := optBuildCFG(raw)
		v := newOptValues()
		start := time.Now()
		out, err := optimizeCFG(g, v)
		d := time.Since(start)
		t.Logf("%5d -> %5d %v: rounds %d analyses %d work %8d (%4.0f/insn) %v %.1fns/unit", len(raw), len(out), err, v.rounds, v.analyses, v.work, float64(v.work)/float64(len(raw)), d, float64(d.Nanoseconds())/float64(v.work))
	}
	type r struct {
		label string
		n     int
		per   float64
	}
	var rs []r
	for _, c := range optLoadAccept(t) {
		unopt, err := ParseListing(c.ExpectedUnopt)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := optAssemble(unopt)
		if back, _ := optHasBackwardJump(raw); back {
			continue
		}
		g, err := optBuildCFG(raw)
		if err != nil {
			continue
		}
		v := newOptValues()
		optimizeCFG(g, v)
		rs = append(rs, r{c.Label, len(raw), float64(v.work) / float64(len(raw))})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].per > rs[j].per })
	for _, x := range rs[:8] {
		t.Logf("%s %d insns %.0f/insn", x.label, x.n, x.per)
	}
}
