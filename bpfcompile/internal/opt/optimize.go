package opt

import (
	"errors"
	"fmt"
	"slices"

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
	return optimizeRaw(raw, budget, false)
}

// optimizeRaw is OptimizeRaw; with full set, number skips no block and
// numbers the values anew every round, as it did before it kept them and
// skipped blocks (what must not change the result, which tests compare).
func optimizeRaw(raw []bpf.RawInstruction, budget int, full bool) ([]bpf.RawInstruction, Stats, error) {
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
	o := &optimizer{fullNumber: full}
	o.init(blocks, len(raw), budget, registers(raw))
	shareReturns(o.b, o.iter)
	out, err := o.run()
	st := Stats{Work: o.work, Rounds: int(o.rounds)}
	if err != nil {
		return nil, st, err
	}
	if len(out) > len(raw) {
		out = append(out[:0], raw...)
	}
	return out, st, nil
}

// Blocks is a program under construction as basic blocks, as a code
// generator makes them (no layout, no jump offsets): what the compiler
// hands over. Each block is statements (Stmt: no jumps, no returns) and a
// terminator (End), a return (RET|K, RET|A) or a conditional jump to
// blocks given by their numbers, the order of End. Block 0 is the entry;
// the graph must have no cycle.
type Blocks struct {
	// o is made with the blocks (one allocation less); the blocks being
	// built are o.b.
	o     optimizer
	stmts []bpf.RawInstruction // every block's statements, in order
	start int                  // the first statement of the block being built
}

// NewBlocks makes room for a program of nblocks blocks and nstmts
// statements.
func NewBlocks(nblocks, nstmts int) *Blocks {
	p := &Blocks{stmts: make([]bpf.RawInstruction, 0, nstmts)}
	p.o.b = make([]block, 0, nblocks)
	return p
}

// Stmt adds a statement to the block being built. (Optimize checks the
// statements and terminators, all at once: a call here costs less.)
func (p *Blocks) Stmt(ri bpf.RawInstruction) {
	p.stmts = append(p.stmts, ri)
}

// End ends the block being built with the terminator op, k (jt and jf,
// the blocks a jump goes to, are unused for a return).
func (p *Blocks) End(op uint16, k uint32, jt, jf int) {
	// Filled in place: a block value copied into the slice would cost a
	// write barrier for each of its pointers while the collector marks.
	if len(p.o.b) == cap(p.o.b) {
		p.o.b = append(p.o.b, block{})
	} else {
		p.o.b = p.o.b[:len(p.o.b)+1]
	}
	b := &p.o.b[len(p.o.b)-1]
	b.stmts = p.stmts[p.start:len(p.stmts):len(p.stmts)]
	b.op, b.k, b.jt, b.jf = op, k, int32(jt), int32(jf)
	p.start = len(p.stmts)
	if b.isLeaf() {
		b.jt, b.jf = none, none
	}
}

// validTerminator reports whether op ends a block: a return or a
// conditional jump.
func validTerminator(op uint16) bool {
	return op == cbpf.RET|cbpf.K || op == cbpf.RET|cbpf.A || op&0x07 == cbpf.JMP && op != opJA && validOp(op)
}

// validStmt reports whether ri is a statement of a block: valid (checkRaw)
// and neither a jump nor a return.
func validStmt(ri bpf.RawInstruction) bool {
	// Classes JMP and RET are 5 and 6 (c-JMP wraps below). (Small
	// enough to be inlined.)
	return validOp(ri.Op) && ri.Op&0x07-cbpf.JMP > 1 && (ri.K <= 15 || !scratchOp(ri.Op))
}

// valid reports whether every statement and terminator is valid, and
// the registers the statements use (registers).
func (p *Blocks) valid() (regs int, ok bool) {
	regs = atomM
	for _, ri := range p.stmts {
		if !validStmt(ri) {
			return 0, false
		}
		if scratchOp(ri.Op) {
			regs = max(regs, atomM+int(ri.K&15)+1)
		}
	}
	for i := range p.o.b {
		if !validTerminator(p.o.b[i].op) {
			return 0, false
		}
	}
	return regs, true
}

// check returns the registers the statements use (registers), or an
// error for the first invalid statement or terminator, in the order
// they were added.
func (p *Blocks) check() (int, error) {
	if regs, ok := p.valid(); ok {
		return regs, nil
	}
	// Which is first.
	stmt := func(block int, s []bpf.RawInstruction) error {
		for j, ri := range s {
			if !validStmt(ri) {
				return fmt.Errorf("%w: block %d, statement %d: 0x%02x", ErrInvalid, block, j, ri.Op)
			}
		}
		return nil
	}
	for i := range p.o.b {
		b := &p.o.b[i]
		if err := stmt(i, b.stmts); err != nil {
			return 0, err
		}
		if !validTerminator(b.op) {
			return 0, fmt.Errorf("%w: block %d: terminator 0x%02x", ErrInvalid, i, b.op)
		}
	}
	return 0, stmt(len(p.o.b), p.stmts[p.start:])
}

// scratchOp reports whether op names a scratch slot in k: ld M[k],
// ldx M[k] (0x60, 0x61), st and stx (0x02, 0x03).
func scratchOp(op uint16) bool {
	return op&^1 == cbpf.LD|cbpf.MEM || op&0x07&^1 == cbpf.ST
}

// registers returns the registers of every block's values a program
// uses: A, X and the scratch slots up to the highest one it names.
func registers(prog []bpf.RawInstruction) int {
	regs := atomM
	for _, ri := range prog {
		if scratchOp(ri.Op) {
			regs = max(regs, atomM+int(ri.K&15)+1)
		}
	}
	return regs
}

// Optimize is Optimize for the program built. The blocks are used up.
func (p *Blocks) Optimize(budget int) ([]bpf.RawInstruction, Stats, error) {
	regs, err := p.check()
	if err != nil {
		return nil, Stats{}, err
	}
	if len(p.o.b) == 0 {
		return nil, Stats{}, fmt.Errorf("%w: empty program", ErrInvalid)
	}
	if p.start != len(p.stmts) {
		return nil, Stats{}, fmt.Errorf("%w: statements after the last block", ErrInvalid)
	}
	nb := int32(len(p.o.b))
	for i := range p.o.b {
		if b := &p.o.b[i]; !b.isLeaf() && (b.jt < 0 || b.jt >= nb || b.jf < 0 || b.jf >= nb) {
			return nil, Stats{}, fmt.Errorf("%w: block %d: jump to %d, %d of %d blocks", ErrInvalid, i, b.jt, b.jf, nb)
		}
	}
	o := &p.o
	o.init(o.b, len(p.stmts), budget, regs)
	p.stmts = nil
	shareReturns(o.b, o.iter)
	out, err := o.run()
	return out, Stats{Work: o.work, Rounds: int(o.rounds)}, err
}

// init sets o up to optimize blocks with n statements that use regs
// registers (registers), with the scratch space of its passes made at
// once (findFacts makes its own, which only large programs need).
func (o *optimizer) init(blocks []block, n, budget, regs int) {
	o.b, o.budget = blocks, budget
	o.numberedShape = ^uint64(0) // number has not run
	o.degShape = ^uint64(0)      // nor levelOrder
	// The value table starts with room for a value per statement and
	// block in a small program; a large one has far fewer values than
	// statements (a chain loads the same fields again and again: 20
	// ports make 36 values of 1,100 statements and blocks), and the
	// table grows when it must (values.grow), the numbers staying the
	// same.
	// The keys have room for the estimate (the typical filters make
	// fewer values than it: tcp port 443 16 of 22), not for all the index
	// holds before it grows (size/2): they are appended to.
	size := 32
	est := min(n+len(blocks), 64+(n+len(blocks))/8)
	for size < 2*est {
		size *= 2
	}
	o.vals.keys = make([]valueKey, 1, 1+est)
	nb := len(blocks)
	tab := 16
	for tab < 2*nb {
		tab *= 2
	}
	memo := 0 // pullup's memory of chains, for large programs
	if nb > maxWalkFacts {
		memo = 2 * nb
	}
	// mergeSame's table and pullups's aCount share their memory: pullups
	// runs in the branch phase, mergeSame once the rounds are over, and
	// each clears its part before use.
	shared := max(tab, size/2)
	// The edges into the blocks (predArena) are at most two out of each
	// block, and findPreds gives each list room for two more: 4*nb.
	ints := make([]int32, 17*nb+2*memo+1+shared)
	cut := func(k int) []int32 {
		s := ints[:k:k]
		ints = ints[k:]
		return s
	}
	o.iter, o.stack, o.finish, o.order = cut(nb), cut(nb)[:0], cut(nb)[:0], cut(nb)
	o.count, o.kids, o.pull, o.pull2 = cut(nb+1), cut(nb), cut(nb)[:0], cut(nb)[:0]
	o.domAt, o.predArena = cut(nb), cut(4*nb)
	both := cut(shared)
	o.table, o.aCount = both[:tab:tab], both[:size/2:size/2]
	bytes := make([]uint8, 4*nb)
	o.state, o.domIs, o.long, o.dirty = bytes[:nb:nb], bytes[nb:2*nb:2*nb], bytes[2*nb:3*nb:3*nb], bytes[3*nb:]
	o.predOff, o.predN, o.predCap, o.inDeg = cut(nb), cut(nb), cut(nb), cut(nb)
	o.noTestKey, o.noTestAt = cut(memo), cut(memo)
	k := regs
	// The values of the blocks, at exit and at entry, and the value
	// table, in one allocation.
	vals := make([]vnum, size+2*nb*k)
	o.vals.index, vals = vals[:size:size], vals[size:]
	for i := range blocks {
		blocks[i].val, vals = vals[:k:2*k], vals[2*k:]
	}
}

// optimizer holds a program as blocks and the state of its passes.
//
// The fields narrower than 8 bytes are put together where they take no
// padding: the optimizer is allocated with every compile (in Blocks),
// and at 728 bytes Blocks fits the allocator's 768-byte size class with
// the header the allocator adds in front of it.
type optimizer struct {
	b    []block
	root int32
	// rounds is the number of rounds begun (at most maxRounds).
	rounds int32
	vals   values

	order []int32 // reachable blocks, root first, every block after its predecessors

	// The edges into each block i, each 2*block+slot:
	// predArena[predOff[i]:][:predN[i]], room for predCap[i].
	predOff, predN, predCap []int32
	predArena               []int32
	// The edges into each block levelOrder counted, at shape degShape.
	inDeg    []int32
	degShape uint64

	// chainDominated's memory: for the blocks with domAt[i] == domStamp,
	// whether domHead dominates them (domIs[i] 1).
	domAt    []int32
	domIs    []uint8
	domStamp int32
	domHead  int32

	// pullup's memory of the chains that hold no test of a value below a
	// block (noteNoTest): valid while noTestAt[i] == noTestStamp, and
	// noTestShape is the shape.
	noTestKey, noTestAt []int32
	noTestShape         uint64
	noTestStamp         int32
	memoChains          bool // the program is large enough for the memory

	cycle     bool // levelOrder found a cycle
	walkFacts bool // thread walks the dominator tree (walkDecided)
	// fresh says whether no statement changed since the last analysis
	// (analyzed).
	fresh bool

	long  []uint8 // emit's scratch
	table []int32 // mergeSame's

	// Scratch space of the analyses, reused from round to round.
	state                            []uint8
	iter, stack, finish, count, kids []int32
	fx                               *factIndex // findFacts's, made for large programs only
	pull, pull2                      []int32
	aCount                           []int32 // pullups's: the tests of each value of A

	// shape counts the changes to edges; analyzed is its value at the
	// last analysis (fresh above).
	shape, analyzed uint64
	// The shape when the order and edges in (ordered) and the dominators
	// (dominated) were last found; shaped once they were.
	ordered, dominated uint64

	edits int // statements number rewrote, counted or not as changes
	// The shape at the start of number's last call, and number's scratch.
	numberedShape uint64
	dirty         []uint8
	work          int
	budget        int

	shaped    bool
	usesKnown bool // every block's localUses are up to date
	changed   bool // a pass of this round changed the program
	// fullNumber makes number work every block again each round, the
	// values numbered anew (tests: optimizeRaw).
	fullNumber bool
	// wouldAlter says that in the branch phase number found a rewrite of
	// the statement phase that applies in the block it works on.
	wouldAlter bool
	moved      bool // a change other than to a branch's target
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
	var seen []uint64 // shapes after branch-only rounds 1, 2, ...
	extra := -1       // rounds left once a cycle is found
	for !o.spent() && o.rounds < maxRounds && extra != 0 {
		o.rounds++
		o.changed, o.moved = false, false
		if o.analyze(); o.cycle {
			return nil, fmt.Errorf("%w: the blocks form a cycle", ErrInvalid)
		}
		if err := o.number(false); err != nil {
			return nil, err
		}
		o.thread()
		o.pullups()
		if o.changed {
			o.fresh = false
		}
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
			if first := slices.Index(seen, h); first >= 0 {
				extra = (maxBranchOnlyRounds - branchOnly) % (branchOnly - (first + 1))
				continue
			}
			seen = append(seen, h)
			continue
		}
		break
	}
	// The statement phase: constants folded, redundant loads and stores
	// dropped, until nothing changes.
	for !o.spent() && o.rounds < maxRounds {
		o.rounds++
		o.changed = false
		if !o.fresh || o.shape != o.analyzed {
			// The last round of the branch phase changed nothing: its
			// analysis holds.
			o.analyze()
		}
		if err := o.number(true); err != nil {
			return nil, err
		}
		if !o.changed {
			break
		}
		o.fresh = false
	}
	if o.mergeSame(); o.cycle {
		return nil, fmt.Errorf("%w: the blocks form a cycle", ErrInvalid)
	}
	o.skipRoot()
	r := &o.b[o.root]
	if r.op == cbpf.RET|cbpf.K && r.k == 0 {
		return []bpf.RawInstruction{{Op: cbpf.RET | cbpf.K}}, nil
	}
	return o.emit()
}

// shareReturns sends every edge into a return to one block per return
// instruction, as the code generator's graph has them. canon is scratch
// space, one entry per block.
func shareReturns(blocks []block, canon []int32) {
	var kept [4]int32
	first := kept[:0] // the returns kept, one per instruction
	for i := range blocks {
		b := &blocks[i]
		canon[i] = int32(i)
		if !b.isLeaf() || len(b.stmts) != 0 {
			continue
		}
		found := false
		for _, f := range first {
			if fb := &blocks[f]; fb.op == b.op && fb.k == b.k {
				canon[i], found = f, true
				break
			}
		}
		if !found {
			first = append(first, int32(i))
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
