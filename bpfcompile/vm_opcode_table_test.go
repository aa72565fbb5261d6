package bpfcompile

import "testing"

// TestVMOpTable checks that the table vmDecodeOp looks opcodes up in
// decodes every 16-bit opcode as the switch that defines them does.
func TestVMOpTable(t *testing.T) {
	for c := range 1 << 16 {
		if got, want := vmDecodeOp(uint16(c)), vmDecodeOpSwitch(uint16(c)); got != want {
			t.Errorf("opcode %#x: table %d, switch %d", c, got, want)
		}
	}
}
