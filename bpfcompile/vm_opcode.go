package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// Classic BPF opcode fields (<linux/bpf_common.h>, <linux/filter.h>). An
// opcode is class | size | mode for loads and stores, class | op | source for
// ALU and jumps, class | source for returns.
const (
	vmClsLD   = 0x00
	vmClsLDX  = 0x01
	vmClsST   = 0x02
	vmClsSTX  = 0x03
	vmClsALU  = 0x04
	vmClsJMP  = 0x05
	vmClsRET  = 0x06
	vmClsMISC = 0x07

	vmSizeW = 0x00
	vmSizeH = 0x08
	vmSizeB = 0x10

	vmModeIMM = 0x00
	vmModeABS = 0x20
	vmModeIND = 0x40
	vmModeMEM = 0x60
	vmModeLEN = 0x80
	vmModeMSH = 0xa0

	vmAluADD = 0x00
	vmAluSUB = 0x10
	vmAluMUL = 0x20
	vmAluDIV = 0x30
	vmAluOR  = 0x40
	vmAluAND = 0x50
	vmAluLSH = 0x60
	vmAluRSH = 0x70
	vmAluNEG = 0x80
	vmAluMOD = 0x90
	vmAluXOR = 0xa0

	vmJmpJA   = 0x00
	vmJmpJEQ  = 0x10
	vmJmpJGT  = 0x20
	vmJmpJGE  = 0x30
	vmJmpJSET = 0x40

	vmSrcK = 0x00
	vmSrcX = 0x08

	vmRetK = 0x00
	vmRetA = 0x10

	vmMiscTAX = 0x00
	vmMiscTXA = 0x80
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
	switch code {
	case vmClsLD | vmModeIMM:
		return vmOpLdImm
	case vmClsLDX | vmModeIMM:
		return vmOpLdxImm
	case vmClsLD | vmSizeW | vmModeABS:
		return vmOpLdAbsW
	case vmClsLD | vmSizeH | vmModeABS:
		return vmOpLdAbsH
	case vmClsLD | vmSizeB | vmModeABS:
		return vmOpLdAbsB
	case vmClsLD | vmSizeW | vmModeIND:
		return vmOpLdIndW
	case vmClsLD | vmSizeH | vmModeIND:
		return vmOpLdIndH
	case vmClsLD | vmSizeB | vmModeIND:
		return vmOpLdIndB
	case vmClsLD | vmSizeW | vmModeLEN:
		return vmOpLdLen
	case vmClsLDX | vmSizeW | vmModeLEN:
		return vmOpLdxLen
	case vmClsLD | vmModeMEM:
		return vmOpLdMem
	case vmClsLDX | vmModeMEM:
		return vmOpLdxMem
	case vmClsLDX | vmSizeB | vmModeMSH:
		return vmOpLdxMsh
	case vmClsST:
		return vmOpSt
	case vmClsSTX:
		return vmOpStx
	case vmClsALU | vmAluNEG:
		return vmOpNeg
	case vmClsJMP | vmJmpJA:
		return vmOpJa
	case vmClsRET | vmRetK:
		return vmOpRetK
	case vmClsRET | vmRetA:
		return vmOpRetA
	case vmClsMISC | vmMiscTAX:
		return vmOpTax
	case vmClsMISC | vmMiscTXA:
		return vmOpTxa
	}
	switch code &^ vmSrcX {
	case vmClsALU | vmAluADD:
		return vmKindKX(code, vmOpAddK, vmOpAddX)
	case vmClsALU | vmAluSUB:
		return vmKindKX(code, vmOpSubK, vmOpSubX)
	case vmClsALU | vmAluMUL:
		return vmKindKX(code, vmOpMulK, vmOpMulX)
	case vmClsALU | vmAluDIV:
		return vmKindKX(code, vmOpDivK, vmOpDivX)
	case vmClsALU | vmAluMOD:
		return vmKindKX(code, vmOpModK, vmOpModX)
	case vmClsALU | vmAluAND:
		return vmKindKX(code, vmOpAndK, vmOpAndX)
	case vmClsALU | vmAluOR:
		return vmKindKX(code, vmOpOrK, vmOpOrX)
	case vmClsALU | vmAluXOR:
		return vmKindKX(code, vmOpXorK, vmOpXorX)
	case vmClsALU | vmAluLSH:
		return vmKindKX(code, vmOpLshK, vmOpLshX)
	case vmClsALU | vmAluRSH:
		return vmKindKX(code, vmOpRshK, vmOpRshX)
	case vmClsJMP | vmJmpJEQ:
		return vmKindKX(code, vmOpJeqK, vmOpJeqX)
	case vmClsJMP | vmJmpJGT:
		return vmKindKX(code, vmOpJgtK, vmOpJgtX)
	case vmClsJMP | vmJmpJGE:
		return vmKindKX(code, vmOpJgeK, vmOpJgeX)
	case vmClsJMP | vmJmpJSET:
		return vmKindKX(code, vmOpJsetK, vmOpJsetX)
	}
	return vmOpInvalid
}

func vmKindKX(code uint16, k, x vmOp) vmOp {
	if code&vmSrcX != 0 {
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
