package opt

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// errUninitScratch reports a scratch load that may come before any
// store to the slot.
var errUninitScratch = errors.New("scratch slot read before any store")

// state is what holds at a point of the program on every path to it.
type state struct {
	regs   registers
	facts  factSet
	minLen uint64 // the packet has at least this many bytes
	avail  []vnum // loads done on every path, sorted
}

// edge is an edge into a block: pred's successor slot.
type edge struct{ pred, slot int }

// analysis is the dataflow of one version of the graph.
type analysis struct {
	full    bool // states hold facts, loads done and packet length; else only registers
	order   []int
	pos     []int // index of a block in order, -1 when dead
	preds   [][]edge
	entry   []state
	out     []state // after the block's instructions
	liveIn  []uint32
	liveOut []uint32
}

// canFail reports whether the instruction described by e may end the
// program (a load past the packet or without metadata, a division by zero)
// at a point where s holds.
func (t *values) canFail(e *effect, s *state) bool {
	if e.mayTrap {
		return true
	}
	if !e.load {
		return false
	}
	if _, ok := slices.BinarySearch(s.avail, e.loadVal); ok {
		return false
	}
	if e.loadEnd > 0 {
		known := s.minLen
		if f := s.facts.get(t.num(value{kind: kindLen})); f != nil {
			known = max(known, uint64(f.lo))
		}
		return e.loadEnd > known
	}
	return true
}

// step applies one instruction to s.
func (t *values) step(e *effect, s *state) {
	if e.dst >= 0 {
		s.regs.set(e.dst, e.val)
	}
	if e.load {
		if i, ok := slices.BinarySearch(s.avail, e.loadVal); !ok {
			s.avail = slices.Insert(slices.Clip(s.avail), i, e.loadVal)
		}
		if e.loadEnd > s.minLen {
			s.minLen = e.loadEnd
		}
	}
}

// edgeState returns the state on the edge leaving block b by slot.
func (t *values) edgeState(b *block, out *state, slot int) state {
	s := *out
	if b.term == termCond {
		if vn, k, ok := t.condOperand(b, &out.regs); ok {
			s.facts = out.facts.with(t, vn, b.op, k, slot == 0)
		}
	}
	return s
}

// edgeStateIn is edgeState with a small set of facts built in buf, which
// the caller owns.
func (t *values) edgeStateIn(buf []fact, b *block, out *state, slot int) state {
	s := *out
	s.facts = out.facts.owned(buf)
	if b.term == termCond {
		if vn, k, ok := t.condOperand(b, &out.regs); ok {
			s.facts = s.facts.withOwned(t, vn, b.op, k, slot == 0)
		}
	}
	return s
}

// condOperand returns the value a conditional jump tests and its constant
// operand, when the operand is a constant (K, or an X known to be one).
func (t *values) condOperand(b *block, r *registers) (vnum, uint32, bool) {
	if b.op&cbpf.X == 0 {
		return r.a, b.k, true
	}
	if c, ok := t.isConst(r.x); ok {
		return r.a, c, true
	}
	return 0, 0, false
}

// joinState merges the states of two paths into block bi.
func (t *values) joinState(bi int, a, b *state) state {
	s := state{minLen: min(a.minLen, b.minLen)}
	s.regs = t.joinRegs(bi, &a.regs, &b.regs)
	s.facts = joinFacts(t, a.facts, b.facts)
	if n := min(len(a.avail), len(b.avail)); n > 0 {
		s.avail = make([]vnum, 0, n)
	}
	i, j := 0, 0
	for i < len(a.avail) && j < len(b.avail) {
		switch {
		case a.avail[i] < b.avail[j]:
			i++
		case a.avail[i] > b.avail[j]:
			j++
		default:
			s.avail = append(s.avail, a.avail[i])
			i++
			j++
		}
	}
	return s
}

// joinRegs merges the registers of two paths into block bi.
func (t *values) joinRegs(bi int, a, b *registers) registers {
	if *a == *b {
		return *a
	}
	join := func(r int, x, y vnum) vnum {
		switch {
		case x == y:
			return x
		case x == vnUninit || y == vnUninit:
			return vnUninit
		}
		return t.phi(bi, r)
	}
	var r registers
	r.a = join(regA, a.a, b.a)
	r.x = join(regX, a.x, b.x)
	for i := range r.m {
		r.m[i] = join(regM+i, a.m[i], b.m[i])
	}
	return r
}

// analyze computes states and liveness for the live blocks of g; with full
// unset the states hold only the registers' values. It fails on a scratch
// load that may come before any store.
func (t *values) analyze(g *graph, full bool) (*analysis, error) {
	t.analyses++
	n := len(g.blocks)
	an := t.spare
	t.spare = nil
	if an == nil {
		an = &analysis{}
	}
	an.full = full
	an.order = g.topoInto(an.order[:0])
	an.pos = resize(an.pos, n)
	an.preds = resize(an.preds, n)
	an.entry = resize(an.entry, n)
	an.out = resize(an.out, n)
	an.liveIn = resize(an.liveIn, n)
	an.liveOut = resize(an.liveOut, n)
	for i := range an.pos {
		an.pos[i] = -1
		an.preds[i] = an.preds[i][:0]
	}
	clear(an.entry)
	clear(an.out)
	clear(an.liveIn)
	clear(an.liveOut)
	for i, bi := range an.order {
		an.pos[bi] = i
		b := g.blocks[bi]
		for s := 0; s < b.nsucc(); s++ {
			an.preds[b.succ[s]] = append(an.preds[b.succ[s]], edge{bi, s})
		}
	}
	for _, bi := range an.order {
		if err := t.evalBlock(g, an, bi); err != nil {
			return nil, err
		}
	}
	for i := len(an.order) - 1; i >= 0; i-- {
		an.evalLive(g, an.order[i])
	}
	return an, nil
}

// release hands an analysis no longer used back for the next one to reuse
// its memory.
func (t *values) release(an *analysis) {
	t.spare = an
}

// evalBlock computes the entry state of block bi from the states of its
// predecessors, and its state after its instructions.
func (t *values) evalBlock(g *graph, an *analysis, bi int) error {
	b := g.blocks[bi]
	t.work += 8 + len(b.insns)
	for _, e := range an.preds[bi] {
		t.work += 4 + len(an.out[e.pred].avail)
	}
	var s state
	switch {
	case bi == 0:
		s.regs.a, s.regs.x = vnZero, vnZero
	case !an.full:
		for i, e := range an.preds[bi] {
			if i == 0 {
				s.regs = an.out[e.pred].regs
			} else {
				s.regs = t.joinRegs(bi, &s.regs, &an.out[e.pred].regs)
			}
		}
	case len(an.preds[bi]) == 1:
		e := an.preds[bi][0]
		s = t.edgeState(g.blocks[e.pred], &an.out[e.pred], e.slot)
	default:
		// The edge states are joined into new memory: build them in
		// scratch space.
		for i, e := range an.preds[bi] {
			es := t.edgeStateIn(t.scratchFacts[i&1], g.blocks[e.pred], &an.out[e.pred], e.slot)
			if buf := es.facts.scratch(); buf != nil {
				t.scratchFacts[i&1] = buf
			}
			if i == 0 {
				s = es
			} else {
				s = t.joinState(bi, &s, &es)
			}
		}
	}
	an.entry[bi] = s
	s.avail = slices.Clip(s.avail)
	for ii, ri := range b.insns {
		e := t.effect(ri, &s.regs)
		if e.badScrach {
			return fmt.Errorf("%w: block at %d, instruction %d", errUninitScratch, b.order, ii)
		}
		if an.full {
			t.step(&e, &s)
		} else if e.dst >= 0 {
			s.regs.set(e.dst, e.val)
		}
	}
	an.out[bi] = s
	return nil
}

// evalLive computes the registers live at the entry and the exit of block
// bi from those live at its successors. It reports whether liveIn changed.
func (an *analysis) evalLive(g *graph, bi int) bool {
	b := g.blocks[bi]
	var live uint32
	switch b.term {
	case termRet:
		if b.op == cbpf.RET|cbpf.A {
			live = 1 << regA
		}
	case termCond:
		live = 1 << regA
		if b.op&cbpf.X != 0 {
			live |= 1 << regX
		}
		live |= an.liveIn[b.succ[0]] | an.liveIn[b.succ[1]]
	case termJump:
		live = an.liveIn[b.succ[0]]
	}
	an.liveOut[bi] = live
	for j := len(b.insns) - 1; j >= 0; j-- {
		dst, uses := defUse(b.insns[j])
		if dst >= 0 {
			live &^= 1 << dst
		}
		live |= uses
	}
	changed := an.liveIn[bi] != live
	an.liveIn[bi] = live
	return changed
}

// defUse returns the register an instruction writes (-1 for none) and
// the registers it reads.
func defUse(ri bpf.RawInstruction) (int, uint32) {
	switch ri.Op & 0x07 {
	case cbpf.LD:
		switch ri.Op & 0xe0 {
		case cbpf.MEM:
			return regA, 1 << (regM + ri.K&15)
		case cbpf.IND:
			return regA, 1 << regX
		case cbpf.ABS:
			if ri.K >= cbpf.AncillaryBase && !pureAncillary(ri.K-cbpf.AncillaryBase) {
				return regA, 1<<regA | 1<<regX
			}
		}
		return regA, 0
	case cbpf.LDX:
		if ri.Op&0xe0 == cbpf.MEM {
			return regX, 1 << (regM + ri.K&15)
		}
		return regX, 0
	case cbpf.ST:
		return regM + int(ri.K&15), 1 << regA
	case cbpf.STX:
		return regM + int(ri.K&15), 1 << regX
	case cbpf.ALU:
		if ri.Op&cbpf.X != 0 && ri.Op&0xf0 != cbpf.NEG {
			return regA, 1<<regA | 1<<regX
		}
		return regA, 1 << regA
	case cbpf.MISC:
		if ri.Op == cbpf.MISC|cbpf.TAX {
			return regX, 1 << regA
		}
		return regA, 1 << regX
	}
	return -1, 0
}
