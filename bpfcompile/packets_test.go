package bpfcompile

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// sameResults runs both programs on n packets generated for a (see
// bpftest.Packets) and fails the test where they return different values,
// on the packets a runs to a return on (bpftest.Faults): where a load of
// a runs off the packet, the optimizer, as libpcap's, may give another
// result.
func sameResults(t *testing.T, a, b []bpf.Instruction, rng *rand.Rand, n int) {
	t.Helper()
	raw, err := vmAssemble(a)
	if err != nil {
		t.Fatal(err)
	}
	pkts := bpftest.Packets(rng, raw, nil, true, n)
	va, err := NewVM(a)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := NewVM(b)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for i, p := range pkts {
		if bpftest.Faults(raw, p.Data, p.WireLen, p.Meta) {
			continue
		}
		compared++
		meta := vmMeta(p.Meta)
		if ra, rb := va.Run(p.Data, p.WireLen, meta), vb.Run(p.Data, p.WireLen, meta); ra != rb {
			t.Fatalf("packet %d (%d bytes): %d before, %d after optimization", i, len(p.Data), ra, rb)
		}
	}
	if compared < n/4 {
		t.Fatalf("only %d of %d packets run to a return", compared, n)
	}
}

// vmMeta copies a generated packet's metadata into the VM's.
func vmMeta(m *bpftest.Meta) *Meta {
	if m == nil {
		return nil
	}
	return &Meta{Protocol: m.Protocol, PktType: m.PktType, IfIndex: m.IfIndex,
		VLANTCI: m.VLANTCI, VLANPresent: m.VLANPresent, VLANTPID: m.VLANTPID}
}
