package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// Errors of the Linux classic-BPF checker's rules (bpf_check_classic and
// check_load_and_stores in net/core/filter.c). Check wraps them in an
// *InstructionError where one instruction is at fault.
var (
	// ErrProgramLength is returned for a program of 0 or more than 4096
	// instructions (BPF_MAXINSNS).
	ErrProgramLength = errors.New("program length out of range 1..4096")
	// ErrBackwardJump is returned for a ja whose offset does not jump
	// forward inside the program (the kernel rejects loops; libpcap's
	// protochain code has them).
	ErrBackwardJump = errors.New("jump not forward inside the program")
	// ErrNoReturn is returned when the last instruction is not ret #k or
	// ret a.
	ErrNoReturn = errors.New("last instruction is not ret")
	// ErrDivisionByZero is returned for a division or modulo by constant 0.
	ErrDivisionByZero = errors.New("division by constant zero")
	// ErrShiftRange is returned for a shift by a constant of 32 or more.
	ErrShiftRange = errors.New("constant shift of 32 or more")
	// ErrScratchIndex is returned for a scratch slot outside M[0]..M[15].
	ErrScratchIndex = errors.New("scratch memory index out of range 0..15")
	// ErrScratchUninitialized is returned for a load of a scratch slot that
	// is not stored on some path to it.
	ErrScratchUninitialized = errors.New("scratch memory read before write")
	// ErrUnknownAncillary is returned for an absolute load at or above
	// SKF_AD_OFF that is not an ancillary value the kernel knows.
	ErrUnknownAncillary = errors.New("unknown ancillary load")
)

// Check applies the Linux kernel's classic-BPF checker rules to prog, the
// rules SO_ATTACH_FILTER enforces: 1 to 4096 instructions, known opcodes,
// every jump forward and inside the program, constant divisors non-zero,
// constant shifts below 32, scratch slots in M[0]..M[15], ancillary loads
// the kernel knows, a ret at the end, and no scratch load before a store on
// some path. The error names the first offending instruction.
func Check(prog []bpf.Instruction) error {
	if len(prog) == 0 || len(prog) > vmMaxProgramLen {
		return fmt.Errorf("bpf check: %w: %d instructions", ErrProgramLength, len(prog))
	}
	raw, err := vmAssemble(prog)
	if err != nil {
		return fmt.Errorf("bpf check: %w", err)
	}
	return checkRaw(raw)
}

// KernelCanRun reports whether the Linux kernel accepts prog as a socket
// filter. A program it cannot run (libpcap's protochain loops backward) can
// still filter in user space with a VM.
func KernelCanRun(prog []bpf.Instruction) bool {
	return Check(prog) == nil
}

// checkRaw is Check for raw instructions.
func checkRaw(raw []bpf.RawInstruction) error {
	n := len(raw)
	if n == 0 || n > vmMaxProgramLen {
		return fmt.Errorf("bpf check: %w: %d instructions", ErrProgramLength, n)
	}
	fail := func(i int, err error) error {
		return fmt.Errorf("bpf check: %w", &InstructionError{Index: i, Err: err})
	}
	loads := false // a scratch slot is read
	for i, r := range raw {
		ck := uint8(ckInvalid)
		if r.Op <= 0xff {
			ck = checkKinds[r.Op]
		}
		switch ck {
		case ckNone:
		case ckCond:
			if i+1+int(r.Jt) >= n || i+1+int(r.Jf) >= n {
				return fail(i, fmt.Errorf("%w: jt %d jf %d", ErrJumpOutOfRange, i+1+int(r.Jt), i+1+int(r.Jf)))
			}
		case ckAbsLoad:
			if r.K >= cbpf.AncillaryBase && !isAncillary(r.K) {
				return fail(i, fmt.Errorf("%w: [%#x]", ErrUnknownAncillary, r.K))
			}
		case ckInvalid:
			return fail(i, fmt.Errorf("%w: opcode %#x", ErrInvalidInstruction, r.Op))
		case ckDivisor:
			if r.K == 0 {
				return fail(i, ErrDivisionByZero)
			}
		case ckShift:
			if r.K >= 32 {
				return fail(i, fmt.Errorf("%w: %d", ErrShiftRange, r.K))
			}
		case ckScratchLoad, ckScratchStore:
			loads = loads || ck == ckScratchLoad
			if r.K >= vmScratchWords {
				return fail(i, fmt.Errorf("%w: M[%d]", ErrScratchIndex, r.K))
			}
		case ckJa:
			// k is unsigned: a "negative" offset is a huge forward one.
			if r.K >= uint32(n-i-1) {
				return fail(i, fmt.Errorf("%w: ja %+d", ErrBackwardJump, int32(r.K)))
			}
		}
	}
	switch vmDecodeOp(raw[n-1].Op) {
	case vmOpRetK, vmOpRetA:
	default:
		return fail(n-1, ErrNoReturn)
	}
	if !loads {
		return nil // no read of a slot to check
	}
	return checkScratchInit(raw)
}

// What checkRaw checks of an instruction beside its opcode, by opcode.
const (
	ckNone         = iota // nothing
	ckInvalid             // not an opcode the kernel takes
	ckCond                // a conditional jump: its targets
	ckAbsLoad             // an absolute load: an ancillary offset it knows
	ckDivisor             // division or modulus by k: k not 0
	ckShift               // shift by k: k below 32
	ckScratchLoad         // a load of M[k]: k in range (and slots to check)
	ckScratchStore        // a store to M[k]: k in range
	ckJa                  // ja: a forward jump inside the program
)

// checkKinds is the check of every 8-bit opcode (the others are invalid).
var checkKinds = func() (t [256]uint8) {
	for c := range t {
		switch op := vmDecodeOp(uint16(c)); {
		case op == vmOpInvalid:
			t[c] = ckInvalid
		case op.isCondJump():
			t[c] = ckCond
		case op.isAbsLoad():
			t[c] = ckAbsLoad
		case op == vmOpDivK || op == vmOpModK:
			t[c] = ckDivisor
		case op == vmOpLshK || op == vmOpRshK:
			t[c] = ckShift
		case op == vmOpLdMem || op == vmOpLdxMem:
			t[c] = ckScratchLoad
		case op.usesScratch():
			t[c] = ckScratchStore
		case op == vmOpJa:
			t[c] = ckJa
		}
	}
	return t
}()

// checkScratchInit is the kernel's check_load_and_stores: it walks the program
// in order with the set of scratch slots known to be written. A jump hands
// its set to its targets (intersected with what other paths bring) and
// the instruction after it starts from all slots valid unless a jump
// narrowed it; every later instruction keeps the set of the one before it,
// even after a ret, exactly as the kernel does. All jumps are forward
// (checkRaw verified that), so one pass suffices.
func checkScratchInit(raw []bpf.RawInstruction) error {
	const all = uint16(0xffff)
	masks := make([]uint16, len(raw))
	for i := range masks {
		masks[i] = all
	}
	valid := uint16(0)
	for i, r := range raw {
		valid &= masks[i]
		op := vmDecodeOp(r.Op)
		switch {
		case op == vmOpSt || op == vmOpStx:
			valid |= 1 << r.K
		case op == vmOpLdMem || op == vmOpLdxMem:
			if valid&(1<<r.K) == 0 {
				return fmt.Errorf("bpf check: %w", &InstructionError{Index: i, Err: fmt.Errorf("%w: M[%d]", ErrScratchUninitialized, r.K)})
			}
		case op == vmOpJa:
			masks[i+1+int(r.K)] &= valid
			valid = all
		case op.isCondJump():
			masks[i+1+int(r.Jt)] &= valid
			masks[i+1+int(r.Jf)] &= valid
			valid = all
		}
	}
	return nil
}
