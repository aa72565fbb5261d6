package opt

import (
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// TestRegsK checks the passes' fast path to the registers an instruction
// reads and writes (regTable, regsK where k matters: not for a packet
// load) against atomUse and atomDef, for
// every valid opcode and the k values that change them: scratch slots,
// and ancillary loads, pure and not.
func TestRegsK(t *testing.T) {
	ks := []uint32{0, 1, 15, 16, 0x7fffffff}
	for off := uint32(0); off <= 64; off += 4 {
		ks = append(ks, cbpf.AncillaryBase+off)
	}
	for op := range 256 {
		if !validOp(uint16(op)) {
			continue
		}
		for _, k := range ks {
			ri := bpf.RawInstruction{Op: uint16(op), K: k}
			r := &regTable[op]
			use, def := r.use, int(r.def)
			if r.kind != regsFixed && (r.kind != regsAbsolute || k >= cbpf.AncillaryBase) {
				use, def = regsK(ri, r.kind)
			}
			if use != atomUse(ri) || def != atomDef(ri) {
				t.Errorf("op 0x%02x k %#x: reads %b writes %d, want %b and %d", op, k, use, def, atomUse(ri), atomDef(ri))
			}
		}
	}
}
