package bpfcompile

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// Errors NewVM returns (wrapped in an *InstructionError naming the index
// where there is one).
var (
	// ErrEmptyProgram is returned for a program without instructions.
	ErrEmptyProgram = errors.New("empty program")
	// ErrJumpOutOfRange is returned for a jump whose target is not an
	// instruction of the program.
	ErrJumpOutOfRange = errors.New("jump out of range")
	// ErrFallsOffEnd is returned when the last instruction is neither a
	// return nor an unconditional jump, so execution could run past it.
	ErrFallsOffEnd = errors.New("program does not end with ret")
)

// MaxBackwardJumps bounds how often one Run takes a backward ja before it
// gives up and rejects the packet. Between two backward jumps execution only
// moves forward, so a run costs at most MaxBackwardJumps+1 passes over the
// program. libpcap's protochain loop takes one backward jump per IPv6
// extension header (8 bytes at least), so 65536 covers any real packet.
const MaxBackwardJumps = 1 << 16

// vmInsn is one pre-decoded instruction. Jump targets are absolute indexes.
type vmInsn struct {
	op vmOp
	k  uint32
	jt uint32
	jf uint32
}

// VM interprets a classic BPF program the way the Linux kernel and libpcap's
// bpf_filter do, including the Linux ancillary loads (SKF_AD_*), which
// golang.org/x/net/bpf's VM lacks:
//   - a load beyond the captured bytes ends the program and returns 0;
//   - division or modulo by zero returns 0;
//   - len (#pktlen) is the wire length, not the captured length;
//   - a shift by 32 or more gives 0 (libpcap's user-space filter);
//   - ja takes a signed offset, so the backward jumps of libpcap's
//     protochain code work, bounded by MaxBackwardJumps;
//   - an ancillary load reads Meta; without Meta it returns 0, as libpcap's
//     filter does without auxiliary data.
//
// A VM is immutable after NewVM and safe for concurrent use. Run does not
// allocate.
type VM struct {
	prog     []vmInsn
	needMeta bool
	loops    bool
}

// NewVM decodes prog for Run. It rejects what could make Run misbehave: an
// empty program, unknown opcodes, scratch slots outside M[0]..M[15], jumps
// outside the program, and a last instruction that could fall off the end.
// It accepts what the kernel's checker would not but libpcap runs in user
// space (backward jumps, programs longer than 4096 instructions); use Check
// for the kernel's rules.
func NewVM(prog []bpf.Instruction) (*VM, error) {
	raw, err := vmAssemble(prog)
	if err != nil {
		return nil, fmt.Errorf("bpf vm: %w", err)
	}
	return newVMRaw(raw)
}

// newVMRaw is NewVM for raw instructions.
func newVMRaw(raw []bpf.RawInstruction) (*VM, error) {
	n := len(raw)
	if n == 0 {
		return nil, fmt.Errorf("bpf vm: %w", ErrEmptyProgram)
	}
	vm := &VM{prog: make([]vmInsn, n)}
	for i, r := range raw {
		op := vmDecodeOp(r.Op)
		in := vmInsn{op: op, k: r.K}
		switch {
		case op == vmOpInvalid:
			return nil, fmt.Errorf("bpf vm: %w", &InstructionError{Index: i, Err: fmt.Errorf("%w: opcode %#x", ErrInvalidInstruction, r.Op)})
		case op.usesScratch() && r.K >= vmScratchWords:
			return nil, fmt.Errorf("bpf vm: %w", &InstructionError{Index: i, Err: fmt.Errorf("%w: M[%d]", ErrScratchIndex, r.K)})
		case op.isAbsLoad() && isAncillary(r.K):
			in.k = r.K - cbpf.AncillaryBase
			in.op = vmOpLdAnc
			if in.k == ancAluXorX {
				in.op = vmOpAncXorX
			} else {
				vm.needMeta = true
			}
		case op == vmOpJa:
			// libpcap sign-extends k: protochain jumps backward.
			t := int64(i) + 1 + int64(int32(r.K))
			if t < 0 || t >= int64(n) {
				return nil, fmt.Errorf("bpf vm: %w", &InstructionError{Index: i, Err: fmt.Errorf("%w: ja to %d", ErrJumpOutOfRange, t)})
			}
			in.jt = uint32(t)
			if t <= int64(i) {
				in.op = vmOpJaBack
				vm.loops = true
			}
		case op.isCondJump():
			t, f := i+1+int(r.Jt), i+1+int(r.Jf)
			if t >= n || f >= n {
				return nil, fmt.Errorf("bpf vm: %w", &InstructionError{Index: i, Err: fmt.Errorf("%w: jt %d jf %d", ErrJumpOutOfRange, t, f)})
			}
			in.jt, in.jf = uint32(t), uint32(f)
		}
		vm.prog[i] = in
	}
	switch vm.prog[n-1].op {
	case vmOpRetK, vmOpRetA, vmOpJa, vmOpJaBack:
	default:
		return nil, fmt.Errorf("bpf vm: %w", &InstructionError{Index: n - 1, Err: ErrFallsOffEnd})
	}
	return vm, nil
}

// NeedsMeta reports whether the program reads ancillary data (Meta).
func (vm *VM) NeedsMeta() bool { return vm.needMeta }

// Loops reports whether the program has backward jumps, which the kernel
// does not run: such a program filters in user space only.
func (vm *VM) Loops() bool { return vm.loops }

// Run executes the program on one packet: pkt holds the captured bytes,
// wireLen is the packet's length on the wire, meta the socket buffer's
// metadata (nil when there is none, as for a savefile). It returns the
// program's result: 0 rejects the packet, anything else is the number of
// bytes to keep.
func (vm *VM) Run(pkt []byte, wireLen int, meta *Meta) uint32 {
	var (
		a, x      uint32
		mem       [vmScratchWords]uint32
		backJumps int
	)
	prog := vm.prog
	n := uint32(len(pkt))
	pc := uint32(0)
	for {
		in := &prog[pc] // in range: NewVM checked every jump target and the end

		pc++
		k := in.k
		switch in.op {
		case vmOpLdImm:
			a = k
		case vmOpLdxImm:
			x = k
		case vmOpLdAbsW:
			if k > n || n-k < 4 {
				return 0
			}
			a = binary.BigEndian.Uint32(pkt[k:])
		case vmOpLdAbsH:
			if k > n || n-k < 2 {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(pkt[k:]))
		case vmOpLdAbsB:
			if k >= n {
				return 0
			}
			a = uint32(pkt[k])
		case vmOpLdIndW:
			off := uint64(x) + uint64(k)
			if off+4 > uint64(n) {
				return 0
			}
			a = binary.BigEndian.Uint32(pkt[off:])
		case vmOpLdIndH:
			off := uint64(x) + uint64(k)
			if off+2 > uint64(n) {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(pkt[off:]))
		case vmOpLdIndB:
			off := uint64(x) + uint64(k)
			if off >= uint64(n) {
				return 0
			}
			a = uint32(pkt[off])
		case vmOpLdLen:
			a = uint32(wireLen)
		case vmOpLdxLen:
			x = uint32(wireLen)
		case vmOpLdMem:
			a = mem[k%vmScratchWords]
		case vmOpLdxMem:
			x = mem[k%vmScratchWords]
		case vmOpLdxMsh:
			if k >= n {
				return 0
			}
			x = uint32(pkt[k]&0xf) << 2
		case vmOpSt:
			mem[k%vmScratchWords] = a
		case vmOpStx:
			mem[k%vmScratchWords] = x
		case vmOpLdAnc:
			v, ok := ancillaryValue(k, meta, pkt, a, x)
			if !ok {
				return 0
			}
			a = v
		case vmOpAncXorX:
			a ^= x
		case vmOpAddK:
			a += k
		case vmOpSubK:
			a -= k
		case vmOpMulK:
			a *= k
		case vmOpDivK:
			if k == 0 {
				return 0
			}
			a /= k
		case vmOpModK:
			if k == 0 {
				return 0
			}
			a %= k
		case vmOpAndK:
			a &= k
		case vmOpOrK:
			a |= k
		case vmOpXorK:
			a ^= k
		case vmOpLshK:
			a = vmShl(a, k)
		case vmOpRshK:
			a = vmShr(a, k)
		case vmOpAddX:
			a += x
		case vmOpSubX:
			a -= x
		case vmOpMulX:
			a *= x
		case vmOpDivX:
			if x == 0 {
				return 0
			}
			a /= x
		case vmOpModX:
			if x == 0 {
				return 0
			}
			a %= x
		case vmOpAndX:
			a &= x
		case vmOpOrX:
			a |= x
		case vmOpXorX:
			a ^= x
		case vmOpLshX:
			a = vmShl(a, x)
		case vmOpRshX:
			a = vmShr(a, x)
		case vmOpNeg:
			a = -a
		case vmOpJa:
			pc = in.jt
		case vmOpJaBack:
			backJumps++
			if backJumps > MaxBackwardJumps {
				return 0
			}
			pc = in.jt
		case vmOpJeqK:
			pc = vmBranch(a == k, in)
		case vmOpJgtK:
			pc = vmBranch(a > k, in)
		case vmOpJgeK:
			pc = vmBranch(a >= k, in)
		case vmOpJsetK:
			pc = vmBranch(a&k != 0, in)
		case vmOpJeqX:
			pc = vmBranch(a == x, in)
		case vmOpJgtX:
			pc = vmBranch(a > x, in)
		case vmOpJgeX:
			pc = vmBranch(a >= x, in)
		case vmOpJsetX:
			pc = vmBranch(a&x != 0, in)
		case vmOpRetK:
			return k
		case vmOpRetA:
			return a
		case vmOpTax:
			x = a
		case vmOpTxa:
			a = x
		default:
			return 0 // unreachable: NewVM rejects unknown opcodes
		}
	}
}

func vmBranch(cond bool, in *vmInsn) uint32 {
	if cond {
		return in.jt
	}
	return in.jf
}

// vmShl and vmShr shift as libpcap's user-space filter does: by 32 or more
// gives 0. (The kernel's checker rejects constant shifts of 32 or more; what
// the kernel makes of a shift by X that large is not specified.)
func vmShl(a, s uint32) uint32 {
	if s >= 32 {
		return 0
	}
	return a << s
}

func vmShr(a, s uint32) uint32 {
	if s >= 32 {
		return 0
	}
	return a >> s
}
