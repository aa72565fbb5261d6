package opt

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// ErrInvalid is returned, wrapped with the instruction at fault, when the
// optimizer is given a program that is not valid classic BPF.
var ErrInvalid = errors.New("bpf: invalid program")

// nop is the opcode of a statement a pass removed; layout drops it. It is
// no valid classic BPF opcode.
const nop = 0xffff

// opJA is the terminator of a block that goes on to its one successor
// without a test (the input fell through into a jump target, or jumped).
const opJA = cbpf.JMP | cbpf.JA

// none is the successor index of a return.
const none = -1

// block is a basic block: statements (no jumps, no returns) and a
// terminator, a return, an unconditional jump (opJA) or a conditional jump
// whose true and false successors are jt and jf.
type block struct {
	stmts  []bpf.RawInstruction
	op     uint16
	k      uint32
	jt, jf int32

	// What the analyses of the current round found.
	val    []vnum  // values at the exit, of the registers the program uses
	oval   vnum    // the operand the branch compares A with
	inUse  atomSet // registers read before being written, here or after
	luse   atomSet // registers the block itself reads before writing
	outUse atomSet // registers read after the block
	kill   atomSet // registers written before being read

	level int32 // length of the longest path to a return
	rpo   int32 // position in the round's order, -1 when unreachable
	idom  int32 // immediate dominator

	// noDeadDefs says that deadDefs found nothing to remove in the block
	// and that what it reads (the statements, the terminator's opcode and
	// outUse) has not changed since: it would find nothing again. The
	// round that confirms nothing changes skips it then.
	noDeadDefs bool
	// numbered is the phase (numberedBranch, numberedStmts) in which
	// number last went over the block and changed nothing, and what it
	// reads besides the values at entry (val's second half), the statements, the
	// terminator and outUse, has not changed since; 0 otherwise.
	numbered uint8
}

// Registers ("atoms"): A, X and the scratch slots M[0..15].
const (
	atomA  = 0
	atomX  = 1
	atomM  = 2
	nAtoms = atomM + 16
)

// atomSet is a set of registers, bit i for atom i.
type atomSet uint32

func (b *block) isLeaf() bool { return b.op&0x07 == cbpf.RET }
func (b *block) isCond() bool { return b.op&0x07 == cbpf.JMP && b.op != opJA }

// succ returns the successor in slot (0: true or the only one, 1: false).
func (b *block) succ(slot int) int32 {
	if slot == 0 {
		return b.jt
	}
	return b.jf
}

func (b *block) setSucc(slot int, t int32) {
	if slot == 0 {
		b.jt = t
	} else {
		b.jf = t
	}
}

// nsucc is the number of successors.
func (b *block) nsucc() int {
	switch {
	case b.isLeaf():
		return 0
	case b.op == opJA:
		return 1
	}
	return 2
}

// validOp reports whether op is an instruction the Linux classic BPF
// checker accepts (jumps and returns included).
func validOp(op uint16) bool {
	// A bit per opcode below 256, the instruction set's (opcodes_test.go
	// checks the bits against it); there is none above.
	var m uint64
	switch op >> 6 {
	case 0:
		m = 0x30313131307010ff
	case 1:
		m = 0x1010101310113131
	case 2:
		m = 0x0002101010100093
	default:
		return false
	}
	return m>>(op&63)&1 != 0
}

// assemble turns instructions into raw ones, checking each opcode.
func assemble(prog []bpf.Instruction) ([]bpf.RawInstruction, error) {
	raw := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		if ins == nil {
			return nil, fmt.Errorf("%w: instruction %d is nil", ErrInvalid, i)
		}
		ri, ok := ins.(bpf.RawInstruction)
		if !ok {
			var err error
			if ri, err = ins.Assemble(); err != nil {
				return nil, fmt.Errorf("%w: instruction %d: %w", ErrInvalid, i, err)
			}
		}
		if err := checkRaw(ri); err != nil {
			return nil, fmt.Errorf("%w: instruction %d: %w", ErrInvalid, i, err)
		}
		raw[i] = ri
	}
	return raw, nil
}

// errBadInstruction is wrapped by checkRaw's errors.
var errBadInstruction = errors.New("bad instruction")

// checkRaw checks the opcode and scratch index of one instruction.
func checkRaw(ri bpf.RawInstruction) error {
	if !validOp(ri.Op) {
		return fmt.Errorf("%w: unknown opcode 0x%02x", errBadInstruction, ri.Op)
	}
	if (ri.Op == cbpf.LD|cbpf.MEM || ri.Op == cbpf.LDX|cbpf.MEM || ri.Op&0x07 == cbpf.ST || ri.Op&0x07 == cbpf.STX) && ri.K > 15 {
		return fmt.Errorf("%w: scratch index %d out of range", errBadInstruction, ri.K)
	}
	return nil
}

// hasBackwardJump reports whether a ja in raw goes backward (its K, read
// as signed, wraps around), as libpcap's protochain loop does.
func hasBackwardJump(raw []bpf.RawInstruction) (bool, error) {
	back := false
	for i, ri := range raw {
		if ri.Op != cbpf.JMP|cbpf.JA {
			continue
		}
		t := int64(i) + 1 + int64(int32(ri.K))
		if t < 0 || t >= int64(len(raw)) {
			return false, fmt.Errorf("%w: instruction %d: jump to %d out of program of %d", ErrInvalid, i, t, len(raw))
		}
		back = back || t <= int64(i)
	}
	return back, nil
}

// fromRaw splits raw (forward jumps only) into basic blocks; block 0 is
// the entry. An unconditional jump becomes the terminator of the block
// before it (or a block of its own), a fall-through into a jump target an
// opJA terminator.
func fromRaw(raw []bpf.RawInstruction) ([]block, error) {
	n := len(raw)
	if n == 0 {
		return nil, fmt.Errorf("%w: empty program", ErrInvalid)
	}
	leader := make([]bool, n+1)
	leader[0] = true
	target := func(i int, skip uint64) (int, error) {
		t := uint64(i) + 1 + skip
		if t >= uint64(n) {
			return 0, fmt.Errorf("%w: instruction %d: jump to %d out of program of %d", ErrInvalid, i, t, n)
		}
		return int(t), nil
	}
	for i, ri := range raw {
		switch ri.Op & 0x07 {
		case cbpf.JMP:
			if ri.Op == cbpf.JMP|cbpf.JA {
				t, err := target(i, uint64(ri.K))
				if err != nil {
					return nil, err
				}
				leader[t] = true
			} else {
				for _, s := range [2]uint8{ri.Jt, ri.Jf} {
					t, err := target(i, uint64(s))
					if err != nil {
						return nil, err
					}
					leader[t] = true
				}
			}
			leader[i+1] = true
		case cbpf.RET:
			leader[i+1] = true
		}
	}
	last := raw[n-1].Op & 0x07
	if last != cbpf.RET && last != cbpf.JMP {
		return nil, fmt.Errorf("%w: program does not end in a return or jump", ErrInvalid)
	}
	blockAt := make([]int32, n)
	nb := int32(-1)
	for i := 0; i < n; i++ {
		if leader[i] {
			nb++
		}
		blockAt[i] = nb
	}
	blocks := make([]block, nb+1)
	stmts := make([]bpf.RawInstruction, 0, n)
	for i := 0; i < n; {
		b := &blocks[blockAt[i]]
		start := len(stmts)
		for ; ; i++ {
			ri := raw[i]
			switch ri.Op & 0x07 {
			case cbpf.RET:
				b.op, b.k, b.jt, b.jf = ri.Op, ri.K, none, none
			case cbpf.JMP:
				if ri.Op == cbpf.JMP|cbpf.JA {
					t := blockAt[i+1+int(ri.K)]
					b.op, b.jt, b.jf = opJA, t, t
				} else {
					b.op, b.k = ri.Op, ri.K
					b.jt, b.jf = blockAt[i+1+int(ri.Jt)], blockAt[i+1+int(ri.Jf)]
				}
			default:
				stmts = append(stmts, ri)
				if !leader[i+1] {
					continue
				}
				t := blockAt[i+1]
				b.op, b.jt, b.jf = opJA, t, t
			}
			break
		}
		i++
		b.stmts = stmts[start:len(stmts):len(stmts)]
	}
	return blocks, nil
}

// instruction converts a raw instruction to the x/net/bpf type that
// assembles back to it (RawInstruction where there is none).
func instruction(ri bpf.RawInstruction) bpf.Instruction {
	switch {
	case ri.Op == cbpf.LD|cbpf.W|cbpf.ABS && ri.K >= cbpf.AncillaryBase && ri.K != cbpf.AncillaryBase+uint32(bpf.ExtLen):
		return bpf.LoadExtension{Num: bpf.Extension(ri.K - cbpf.AncillaryBase)}
	case ri.Op&0x07 == cbpf.LD && ri.Op&0xe0 == cbpf.ABS:
		return bpf.LoadAbsolute{Off: ri.K, Size: int(loadSize(ri.Op))}
	case ri.Op == cbpf.LDX|cbpf.LEN:
		return ri
	case ri.Op&0x07 == cbpf.JMP && ri.Op != cbpf.JMP|cbpf.JA:
		var cond bpf.JumpTest
		switch ri.Op & 0xf0 {
		case cbpf.JEQ:
			cond = bpf.JumpEqual
		case cbpf.JGT:
			cond = bpf.JumpGreaterThan
		case cbpf.JGE:
			cond = bpf.JumpGreaterOrEqual
		default:
			cond = bpf.JumpBitsSet
		}
		if ri.Op&cbpf.X != 0 {
			return bpf.JumpIfX{Cond: cond, SkipTrue: ri.Jt, SkipFalse: ri.Jf}
		}
		return bpf.JumpIf{Cond: cond, Val: ri.K, SkipTrue: ri.Jt, SkipFalse: ri.Jf}
	}
	return ri.Disassemble()
}

// instructions converts raw instructions to x/net/bpf types.
func instructions(raw []bpf.RawInstruction) []bpf.Instruction {
	out := make([]bpf.Instruction, len(raw))
	for i, ri := range raw {
		out[i] = instruction(ri)
	}
	return out
}

// loadSize returns the bytes a load instruction reads.
func loadSize(op uint16) uint8 {
	switch op & 0x18 {
	case cbpf.W:
		return 4
	case cbpf.H:
		return 2
	case cbpf.B:
		return 1
	}
	return 0
}
