package opt

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// Errors of constant arithmetic the optimizer finds (libpcap's optimizer
// reports them with these words): the program divides by, takes the
// modulus by, or shifts by a constant it cannot run with.
var (
	ErrDivisionByZero = errors.New("division by zero")
	ErrModulusByZero  = errors.New("modulus by zero")
	ErrShiftTooFar    = errors.New("shift by more than 31 bits")
)

// The optimizer's work budget, in units of about one statement or block
// looked at by a pass (a few nanoseconds each). Real programs need a few
// hundred units per instruction; long generated chains ("port 1 or ... or
// port 200") some thousands. The budget is workPerInsn per instruction of
// the input, at least workMin and at most workMax.
const (
	workPerInsn = 8000
	workMin     = 1 << 20
	workMax     = 32 << 20
)

// Round limits: libpcap gives up on its branch phase after 100 rounds
// that move branches only (they can cycle); a program settles in a few.
const (
	maxBranchOnlyRounds = 100
	maxRounds           = 1000
)

// Budget returns the work budget for a program of n instructions: what
// Optimize needs for any program the compiler's size guards let through.
func Budget(n int) int {
	return min(workMax, max(workMin, workPerInsn*n))
}

// Stats reports the work one call of Optimize did.
type Stats struct {
	// Work is the units of work done. It passes the budget by at most what
	// one pass does.
	Work int
	// Rounds is the number of rounds of passes begun.
	Rounds int
}

// Optimize returns the program libpcap's optimizer makes of prog: the same
// verdict on every packet that holds all the bytes prog may read, and
// libpcap's verdict on packets cut short, where libpcap's optimizer drops
// loads whose value no test uses and moves tests of a value loaded before
// loads that can fail. It does about budget units of work at most (0: no
// limit; Budget gives the compiler's); when the budget runs out it returns
// the program as the last pass left it.
//
// A program that rejects every packet becomes "ret #0". A program with a
// backward jump (libpcap's protochain loop) is returned unchanged. The
// error wraps ErrInvalid when prog is not a valid loop-free classic BPF
// program (unknown opcodes, jumps out of the program, no return at the
// end), and ErrDivisionByZero, ErrModulusByZero or ErrShiftTooFar when the
// program divides by, takes the modulus by or shifts by more than 31 a
// constant it computes.
func Optimize(prog []bpf.Instruction, budget int) ([]bpf.Instruction, Stats, error) {
	raw, err := assemble(prog)
	if err != nil {
		return nil, Stats{}, err
	}
	out, st, err := OptimizeRaw(raw, budget)
	if err != nil {
		return nil, st, err
	}
	return instructions(out), st, nil
}

// OptimizeRaw is Optimize for encoded instructions. The result may share
// no memory with raw.
func OptimizeRaw(raw []bpf.RawInstruction, budget int) ([]bpf.RawInstruction, Stats, error) {
	if len(raw) == 0 {
		return nil, Stats{}, fmt.Errorf("%w: empty program", ErrInvalid)
	}
	for i, ri := range raw {
		if err := checkRaw(ri); err != nil {
			return nil, Stats{}, fmt.Errorf("%w: instruction %d: %w", ErrInvalid, i, err)
		}
	}
	back, err := hasBackwardJump(raw)
	if err != nil {
		return nil, Stats{}, err
	}
	if back {
		return append([]bpf.RawInstruction(nil), raw...), Stats{}, nil
	}
	blocks, err := fromRaw(raw)
	if err != nil {
		return nil, Stats{}, err
	}
	shareReturns(blocks)
	o := &optimizer{b: blocks, budget: budget}
	out, err := o.run()
	st := Stats{Work: o.work, Rounds: o.rounds}
	if err != nil {
		return nil, st, err
	}
	if len(out) > len(raw) {
		out = append(out[:0], raw...)
	}
	return out, st, nil
}

// optimizer holds a program as blocks and the state of its passes.
type optimizer struct {
	b    []block
	root int32
	vals values

	order []int32 // reachable blocks, root first, every block after its predecessors

	// The edges into each block, each 2*block+slot.
	preds [][]int32

	// dominates' memory: for the blocks with domAt[i] == domStamp, whether
	// domHead dominates them.
	domAt    []uint32
	domIs    []bool
	domStamp uint32
	domHead  int32

	// Scratch space of the analyses, reused from round to round.
	state                            []uint8
	iter, stack, finish, count, kids []int32
	facts                            []factEntry
	factTab                          []int32
	pull, pull2                      []int32

	changed bool // a pass of this round changed the program
	moved   bool // a change other than to a branch's target
	work    int
	budget  int
	rounds  int
}

// spent reports whether the work budget is used up.
func (o *optimizer) spent() bool { return o.budget > 0 && o.work > o.budget }

// run optimizes the program and lays it out.
func (o *optimizer) run() ([]bpf.RawInstruction, error) {
	// The branch phase: value numbering without changing statements,
	// peephole rewrites and dead definitions, then branches moved past
	// tests the path decides and tests of one value pulled together, until
	// nothing changes.
	branchOnly := 0
	var seen map[uint64]int // shapes after branch-only rounds, by count
	extra := -1             // rounds left once a cycle is found
	for !o.spent() && o.rounds < maxRounds && extra != 0 {
		o.rounds++
		o.changed, o.moved = false, false
		o.analyze()
		if err := o.number(false); err != nil {
			return nil, err
		}
		o.thread()
		o.pullups()
		switch {
		case !o.changed:
		case o.moved:
			branchOnly, seen = 0, nil
			continue
		default:
			if branchOnly++; branchOnly >= maxBranchOnlyRounds {
				break
			}
			if extra > 0 {
				extra--
				continue
			}
			// Rounds that only move branches can cycle; libpcap's
			// optimizer then stops after maxBranchOnlyRounds of them, on
			// the shape the cycle has then. Find the cycle and go
			// straight to that shape.
			h := o.shapeHash()
			if first, ok := seen[h]; ok {
				extra = (maxBranchOnlyRounds - branchOnly) % (branchOnly - first)
				continue
			}
			if seen == nil {
				seen = map[uint64]int{}
			}
			seen[h] = branchOnly
			continue
		}
		break
	}
	// The statement phase: constants folded, redundant loads and stores
	// dropped, until nothing changes.
	for !o.spent() && o.rounds < maxRounds {
		o.rounds++
		o.changed = false
		o.analyze()
		if err := o.number(true); err != nil {
			return nil, err
		}
		if !o.changed {
			break
		}
	}
	o.mergeSame()
	o.skipRoot()
	r := &o.b[o.root]
	if r.op == cbpf.RET|cbpf.K && r.k == 0 {
		return []bpf.RawInstruction{{Op: cbpf.RET | cbpf.K}}, nil
	}
	return o.emit()
}

// shareReturns sends every edge into a return to one block per return
// instruction, as the code generator's graph has them.
func shareReturns(blocks []block) {
	first := map[[2]uint32]int32{}
	canon := make([]int32, len(blocks))
	for i := range blocks {
		b := &blocks[i]
		canon[i] = int32(i)
		if b.isLeaf() && len(b.stmts) == 0 {
			key := [2]uint32{uint32(b.op), b.k}
			if c, ok := first[key]; ok {
				canon[i] = c
			} else {
				first[key] = int32(i)
			}
		}
	}
	for i := range blocks {
		b := &blocks[i]
		if !b.isLeaf() {
			b.jt, b.jf = canon[b.jt], canon[b.jf]
		}
	}
}

// shapeHash mixes the tests and edges of every block and the entry: what
// a round that changes only edges changes.
func (o *optimizer) shapeHash() uint64 {
	h := uint64(o.root)
	for i := range o.b {
		b := &o.b[i]
		h = (h ^ (uint64(b.op)<<32 | uint64(b.k))) * 0x9e3779b97f4a7c15
		h = (h ^ (uint64(uint32(b.jt))<<32 | uint64(uint32(b.jf)))) * 0xbf58476d1ce4e5b9
		h ^= h >> 29
	}
	o.work += len(o.b)
	return h
}
