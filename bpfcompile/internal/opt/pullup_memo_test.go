package opt_test

import (
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestPullupChainMemory checks that the pullups of long or-chains do not
// walk every chain to its end from every block of it again: once a
// search found no test of a value after a block, later searches that
// reach the block stop there (noteNoTest). The work of the optimizer on
// a long chain (mostly pullup's steps down chains) stays under a bound
// that walking again passes: 63,781 units without the memory, 53,698
// with it.
func TestPullupChainMemory(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		maxWork int
	}{
		{"50 tcp ports", bpftest.TCPPortChain(50), 58000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := bpfcompile.Compile(tt.expr, bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet, Netmask: bpfcompile.NetmaskUnknown, NoOptimize: true})
			if err != nil {
				t.Fatal(err)
			}
			if work := fullWork(t, prog); work > tt.maxWork {
				t.Errorf("work %d, want %d at most", work, tt.maxWork)
			} else {
				t.Logf("work %d", work)
			}
		})
	}
}
