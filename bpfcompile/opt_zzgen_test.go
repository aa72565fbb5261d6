package bpfcompile

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestZZGen(t *testing.T) {
	for _, n := range []int{100, 200, 400, 800} {
		for name, e := range map[string]string{
			"ports":  optPortChain(n),
			"nested": optNested(n / 10),
			"abcd":   strings.Repeat("((tcp or udp) and (port 1 or port 2)) or ", n/4) + "icmp",
		} {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			start := time.Now()
			raw, _, err := compileRaw(e, Options{LinkType: LinkTypeEthernet})
			d := time.Since(start)
			runtime.ReadMemStats(&ms)
			t.Logf("%s n=%d: len(expr)=%d raw=%d err=%v %v alloc=%dMB", name, n, len(e), len(raw), err, d, (ms.TotalAlloc-before)>>20)
		}
	}
}
