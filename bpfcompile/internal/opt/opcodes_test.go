package opt

import (
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// TestValidOp checks validOp's bits against the instruction set, opcode
// by opcode: what the Linux classic BPF checker accepts.
func TestValidOp(t *testing.T) {
	for op := 0; op <= 0xffff; op++ {
		if got, want := validOp(uint16(op)), instructionSet(uint16(op)); got != want {
			t.Errorf("validOp(%#x) = %v, want %v", op, got, want)
		}
	}
}

// instructionSet reports whether op is an opcode of the classic BPF
// instruction set the Linux checker accepts, class by class.
func instructionSet(op uint16) bool {
	switch op & 0x07 {
	case cbpf.LD:
		switch op {
		case 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x00, 0x60, 0x80:
			return true
		}
	case cbpf.LDX:
		switch op {
		case 0x01, 0x61, 0x81, 0xb1:
			return true
		}
	case cbpf.ST, cbpf.STX:
		return op < 8
	case cbpf.ALU:
		if op == cbpf.ALU|cbpf.NEG {
			return true
		}
		switch op & 0xf0 {
		case cbpf.ADD, cbpf.SUB, cbpf.MUL, cbpf.DIV, cbpf.OR, cbpf.AND,
			cbpf.LSH, cbpf.RSH, cbpf.MOD, cbpf.XOR:
			return op&^0xf8 == cbpf.ALU
		}
	case cbpf.JMP:
		if op == cbpf.JMP|cbpf.JA {
			return true
		}
		switch op & 0xf0 {
		case cbpf.JEQ, cbpf.JGT, cbpf.JGE, cbpf.JSET:
			return op&^0xf8 == cbpf.JMP
		}
	case cbpf.RET:
		return op == cbpf.RET|cbpf.K || op == cbpf.RET|cbpf.A
	case cbpf.MISC:
		return op == cbpf.MISC|cbpf.TAX || op == cbpf.MISC|cbpf.TXA
	}
	return false
}
