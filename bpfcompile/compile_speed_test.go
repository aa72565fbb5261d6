package bpfcompile

import (
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// BenchmarkCompileTypical measures Compile on the filters the compile
// benchmark compares with libpcap (bpftest.SpeedCases; the comparison
// itself is scripts/compilebench, which times the compiler as the daemon
// links it).
func BenchmarkCompileTypical(b *testing.B) {
	for _, c := range bpftest.SpeedCases() {
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(c.Expr, Options{LinkType: LinkTypeEthernet, Netmask: NetmaskUnknown}); err != nil && !c.Long {
					b.Fatal(err)
				}
			}
		})
	}
}
