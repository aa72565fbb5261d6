package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// vmScratchWords is the number of scratch memory cells M[0]..M[15]
// (BPF_MEMWORDS).
const vmScratchWords = 16

// vmMaxProgramLen is the longest program the Linux kernel accepts
// (BPF_MAXINSNS).
const vmMaxProgramLen = 4096

// vmOp is one classic BPF instruction kind, decoded from the opcode. The
// zero value is invalid. The set of valid opcodes is exactly the set the
// Linux classic-BPF checker allows (chk_code_allowed), which is also the set
// libpcap's bpf_image prints.
type vmOp uint8

const (
	vmOpInvalid vmOp = iota
	vmOpLdImm        // A = k
	vmOpLdxImm       // X = k
	vmOpLdAbsW       // A = P[k:4]
	vmOpLdAbsH       // A = P[k:2]
	vmOpLdAbsB       // A = P[k:1]
	vmOpLdIndW       // A = P[X+k:4]
	vmOpLdIndH       // A = P[X+k:2]
	vmOpLdIndB       // A = P[X+k:1]
	vmOpLdLen        // A = wire length
	vmOpLdxLen       // X = wire length
	vmOpLdMem        // A = M[k]
	vmOpLdxMem       // X = M[k]
	vmOpLdxMsh       // X = 4*(P[k:1]&0xf)
	vmOpSt           // M[k] = A
	vmOpStx          // M[k] = X
	vmOpAddK
	vmOpSubK
	vmOpMulK
	vmOpDivK
	vmOpModK
	vmOpAndK
	vmOpOrK
	vmOpXorK
	vmOpLshK
	vmOpRshK
	vmOpAddX
	vmOpSubX
	vmOpMulX
	vmOpDivX
	vmOpModX
	vmOpAndX
	vmOpOrX
	vmOpXorX
	vmOpLshX
	vmOpRshX
	vmOpNeg
	vmOpJa
	vmOpJeqK
	vmOpJgtK
	vmOpJgeK
	vmOpJsetK
	vmOpJeqX
	vmOpJgtX
	vmOpJgeX
	vmOpJsetX
	vmOpRetK
	vmOpRetA
	vmOpTax
	vmOpTxa
	// The VM's own kinds, never decoded from an opcode directly: an
	// absolute load of a Linux ancillary value (k is the SKF_AD_* offset),
	// the SKF_AD_ALU_XOR_X pseudo-load, and a backward ja.
	vmOpLdAnc
	vmOpAncXorX
	vmOpJaBack
)

// vmDecodeOp returns the instruction kind of a classic BPF opcode, or
// vmOpInvalid for an opcode neither the kernel nor libpcap accepts.
func vmDecodeOp(code uint16) vmOp {
	if code > 0xff {
		return vmOpInvalid
	}
	return vmOpTable[code]
}

// vmOpTable is vmDecodeOpSwitch of every 8-bit opcode (all opcodes are 8
// bits): the checker and the VM decode every instruction, and a lookup
// costs a fraction of the switch.
var vmOpTable = func() (t [256]vmOp) {
	for c := range t {
		t[c] = vmDecodeOpSwitch(uint16(c))
	}
	return t
}()

// vmDecodeOpSwitch is vmDecodeOp by the definition of each opcode.
func vmDecodeOpSwitch(code uint16) vmOp {
	switch code {
	case cbpf.LD | cbpf.IMM:
		return vmOpLdImm
	case cbpf.LDX | cbpf.IMM:
		return vmOpLdxImm
	case cbpf.LD | cbpf.W | cbpf.ABS:
		return vmOpLdAbsW
	case cbpf.LD | cbpf.H | cbpf.ABS:
		return vmOpLdAbsH
	case cbpf.LD | cbpf.B | cbpf.ABS:
		return vmOpLdAbsB
	case cbpf.LD | cbpf.W | cbpf.IND:
		return vmOpLdIndW
	case cbpf.LD | cbpf.H | cbpf.IND:
		return vmOpLdIndH
	case cbpf.LD | cbpf.B | cbpf.IND:
		return vmOpLdIndB
	case cbpf.LD | cbpf.W | cbpf.LEN:
		return vmOpLdLen
	case cbpf.LDX | cbpf.W | cbpf.LEN:
		return vmOpLdxLen
	case cbpf.LD | cbpf.MEM:
		return vmOpLdMem
	case cbpf.LDX | cbpf.MEM:
		return vmOpLdxMem
	case cbpf.LDX | cbpf.B | cbpf.MSH:
		return vmOpLdxMsh
	case cbpf.ST:
		return vmOpSt
	case cbpf.STX:
		return vmOpStx
	case cbpf.ALU | cbpf.NEG:
		return vmOpNeg
	case cbpf.JMP | cbpf.JA:
		return vmOpJa
	case cbpf.RET | cbpf.K:
		return vmOpRetK
	case cbpf.RET | cbpf.A:
		return vmOpRetA
	case cbpf.MISC | cbpf.TAX:
		return vmOpTax
	case cbpf.MISC | cbpf.TXA:
		return vmOpTxa
	}
	switch code &^ cbpf.X {
	case cbpf.ALU | cbpf.ADD:
		return vmKindKX(code, vmOpAddK, vmOpAddX)
	case cbpf.ALU | cbpf.SUB:
		return vmKindKX(code, vmOpSubK, vmOpSubX)
	case cbpf.ALU | cbpf.MUL:
		return vmKindKX(code, vmOpMulK, vmOpMulX)
	case cbpf.ALU | cbpf.DIV:
		return vmKindKX(code, vmOpDivK, vmOpDivX)
	case cbpf.ALU | cbpf.MOD:
		return vmKindKX(code, vmOpModK, vmOpModX)
	case cbpf.ALU | cbpf.AND:
		return vmKindKX(code, vmOpAndK, vmOpAndX)
	case cbpf.ALU | cbpf.OR:
		return vmKindKX(code, vmOpOrK, vmOpOrX)
	case cbpf.ALU | cbpf.XOR:
		return vmKindKX(code, vmOpXorK, vmOpXorX)
	case cbpf.ALU | cbpf.LSH:
		return vmKindKX(code, vmOpLshK, vmOpLshX)
	case cbpf.ALU | cbpf.RSH:
		return vmKindKX(code, vmOpRshK, vmOpRshX)
	case cbpf.JMP | cbpf.JEQ:
		return vmKindKX(code, vmOpJeqK, vmOpJeqX)
	case cbpf.JMP | cbpf.JGT:
		return vmKindKX(code, vmOpJgtK, vmOpJgtX)
	case cbpf.JMP | cbpf.JGE:
		return vmKindKX(code, vmOpJgeK, vmOpJgeX)
	case cbpf.JMP | cbpf.JSET:
		return vmKindKX(code, vmOpJsetK, vmOpJsetX)
	}
	return vmOpInvalid
}

func vmKindKX(code uint16, k, x vmOp) vmOp {
	if code&cbpf.X != 0 {
		return x
	}
	return k
}

// isCondJump reports whether op is a conditional jump (jt/jf are used).
func (op vmOp) isCondJump() bool {
	return op >= vmOpJeqK && op <= vmOpJsetX
}

// usesScratch reports whether op reads or writes M[k].
func (op vmOp) usesScratch() bool {
	switch op {
	case vmOpLdMem, vmOpLdxMem, vmOpSt, vmOpStx:
		return true
	}
	return false
}

// isAbsLoad reports whether op is an absolute packet load, which the kernel
// turns into an ancillary load when k is at or above SKF_AD_OFF.
func (op vmOp) isAbsLoad() bool {
	return op == vmOpLdAbsW || op == vmOpLdAbsH || op == vmOpLdAbsB
}

// ErrInvalidInstruction is returned for an instruction x/net/bpf cannot
// assemble or whose opcode classic BPF does not define.
var ErrInvalidInstruction = errors.New("invalid instruction")

// vmAssemble turns prog into raw instructions, naming the index of the first
// instruction that cannot be assembled. A scratch slot outside M[0]..M[15]
// is reported as ErrScratchIndex.
func vmAssemble(prog []bpf.Instruction) ([]bpf.RawInstruction, error) {
	raw := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		switch ins := ins.(type) {
		case bpf.LoadScratch:
			if ins.N < 0 || ins.N >= vmScratchWords {
				return nil, &InstructionError{Index: i, Err: fmt.Errorf("%w: M[%d]", ErrScratchIndex, ins.N)}
			}
		case bpf.StoreScratch:
			if ins.N < 0 || ins.N >= vmScratchWords {
				return nil, &InstructionError{Index: i, Err: fmt.Errorf("%w: M[%d]", ErrScratchIndex, ins.N)}
			}
		case nil:
			return nil, &InstructionError{Index: i, Err: fmt.Errorf("%w: nil", ErrInvalidInstruction)}
		}
		r, err := ins.Assemble()
		if err != nil {
			return nil, &InstructionError{Index: i, Err: fmt.Errorf("%w: %w", ErrInvalidInstruction, err)}
		}
		raw[i] = r
	}
	return raw, nil
}

// InstructionError is an error about one instruction of a program.
type InstructionError struct {
	Index int   // position of the instruction in the program
	Err   error // what is wrong with it
}

// Error returns the message, "instruction N: reason".
func (e *InstructionError) Error() string {
	return fmt.Sprintf("instruction %d: %v", e.Index, e.Err)
}

// Unwrap returns the reason, so errors.Is finds the sentinel errors.
func (e *InstructionError) Unwrap() error { return e.Err }
