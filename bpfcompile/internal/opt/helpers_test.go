package opt_test

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// optimize runs the optimizer with the compiler's budget for prog.
func optimize(prog []bpf.Instruction) ([]bpf.Instruction, error) {
	out, _, err := opt.Optimize(prog, opt.Budget(len(prog)))
	return out, err
}

// assemble returns the raw form of prog, or fails the test.
func assemble(tb testing.TB, prog []bpf.Instruction) []bpf.RawInstruction {
	tb.Helper()
	raw := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		ri, err := ins.Assemble()
		if err != nil {
			tb.Fatalf("instruction %d %#v: %v", i, ins, err)
		}
		raw[i] = ri
	}
	return raw
}

// run runs prog on every packet with bpfcompile's VM.
func run(tb testing.TB, prog []bpf.Instruction, pkts []bpftest.Packet) []uint32 {
	tb.Helper()
	vm, err := bpfcompile.NewVM(prog)
	if err != nil {
		tb.Fatalf("NewVM: %v", err)
	}
	res := make([]uint32, len(pkts))
	for i, p := range pkts {
		res[i] = vm.Run(p.Data, p.WireLen, vmMeta(p.Meta))
	}
	return res
}

// vmMeta copies a generated packet's metadata into the VM's.
func vmMeta(m *bpftest.Meta) *bpfcompile.Meta {
	if m == nil {
		return nil
	}
	return &bpfcompile.Meta{Protocol: m.Protocol, PktType: m.PktType, IfIndex: m.IfIndex,
		VLANTCI: m.VLANTCI, VLANPresent: m.VLANPresent, VLANTPID: m.VLANTPID}
}

// sameResults runs both programs on n generated packets and fails where
// they differ, on the packets a runs to a return on (bpftest.Faults): where
// a load of a runs off the packet, the optimizer, as libpcap's, may give
// another result.
func sameResults(t *testing.T, a, b []bpf.Instruction, rng *rand.Rand, n int) {
	t.Helper()
	raw := assemble(t, a)
	pkts := bpftest.Packets(rng, raw, nil, true, n)
	ra, rb := run(t, a, pkts), run(t, b, pkts)
	compared := 0
	for i := range ra {
		if bpftest.Faults(raw, pkts[i].Data, pkts[i].WireLen, pkts[i].Meta) {
			continue
		}
		compared++
		if ra[i] != rb[i] {
			t.Fatalf("packet %d (%d bytes): %d before, %d after optimization", i, len(pkts[i].Data), ra[i], rb[i])
		}
	}
	if compared < n/4 {
		t.Fatalf("only %d of %d packets run to a return", compared, n)
	}
}

// listing prints prog as tcpdump -d does.
func listing(tb testing.TB, prog []bpf.Instruction) string {
	tb.Helper()
	s, err := bpfcompile.Listing(prog)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
