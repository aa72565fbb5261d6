package bpfcompile

import (
	"runtime"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestCompileMemory bounds the heap allocations of a compile and the bytes
// they take. Each allocation costs time of its own; the bytes decide how
// often the collector runs (the compile-time goal of issue 14 is measured
// with its work included), and fresh memory costs page faults and cache
// misses. The bounds are what Compile makes today: the optimizer's tables
// are sized by what chains need, not by bounds they never reach (20 ports
// allocated 295 KB, 193 KB now), the generator and the optimizer's
// scratch space by what a short filter uses (tcp port 443 allocated 7,616
// bytes). A change that adds to every compile shows here. A bound of 0 is
// none.
func TestCompileMemory(t *testing.T) {
	tests := []struct {
		name, expr string
		allocs     float64
		bytes      uint64
	}{
		{"tcp port 443", "tcp port 443", 29, 6368},
		{"icmp or arp", "icmp or arp", 0, 4304},
		{"net and not port", "net 10.0.0.0/8 and not port 22", 40, 0},
		{"host and ports", "host 198.18.0.1 and (tcp port 80 or tcp port 443)", 31, 13632},
		{"20 ports", bpftest.PortChain(20), 144, 195_000},
	}
	opts := Options{LinkType: LinkTypeEthernet, Netmask: NetmaskUnknown}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compile := func() {
				if _, err := Compile(tt.expr, opts); err != nil {
					t.Fatal(err)
				}
			}
			compile() // what is made once
			if n := testing.AllocsPerRun(20, compile); tt.allocs > 0 && n > tt.allocs {
				t.Errorf("%.0f allocations per compile, want %.0f at most", n, tt.allocs)
			}
			const n = 5
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range n {
				compile()
			}
			runtime.ReadMemStats(&after)
			if got := (after.TotalAlloc - before.TotalAlloc) / n; tt.bytes > 0 && got > tt.bytes {
				t.Errorf("%d bytes per compile, want %d at most", got, tt.bytes)
			}
		})
	}
}
