package bpfcompile

import (
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestCompileAllocations bounds the heap allocations of a compile: each
// costs time of its own and brings the next garbage collection nearer
// (the compile-time goal of issue 14 is measured with the collector's
// work included). The bounds are what Compile makes today; a change that
// adds allocations to every compile shows here.
func TestCompileAllocations(t *testing.T) {
	tests := []struct {
		name, expr string
		max        float64
	}{
		{"tcp port 443", "tcp port 443", 19},
		{"net and not port", "net 10.0.0.0/8 and not port 22", 29},
		{"host and ports", "host 198.18.0.1 and (tcp port 80 or tcp port 443)", 29},
		{"20 ports", bpftest.PortChain(20), 135},
	}
	opts := Options{LinkType: LinkTypeEthernet, Netmask: NetmaskUnknown}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Compile(tt.expr, opts); err != nil {
				t.Fatal(err)
			}
			n := testing.AllocsPerRun(20, func() {
				if _, err := Compile(tt.expr, opts); err != nil {
					t.Fatal(err)
				}
			})
			if n > tt.max {
				t.Errorf("%.0f allocations per compile, want %.0f at most", n, tt.max)
			}
		})
	}
}
