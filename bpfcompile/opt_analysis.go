package bpfcompile

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
)

// errOptUninitScratch reports a scratch load that may come before any
// store to the slot.
var errOptUninitScratch = errors.New("scratch slot read before any store")

// optState is what holds at a point of the program on every path to it.
type optState struct {
	regs   optRegs
	facts  optFacts
	minLen uint64  // the packet has at least this many bytes
	avail  []optVN // loads done on every path, sorted
}

// optEdge is an edge into a block: pred's successor slot.
type optEdge struct{ pred, slot int }

// optAnalysis is the dataflow of one version of the graph.
type optAnalysis struct {
	full    bool // states hold facts, loads done and packet length; else only registers
	order   []int
	pos     []int // index of a block in order, -1 when dead
	preds   [][]optEdge
	entry   []optState
	out     []optState // after the block's instructions
	liveIn  []uint32
	liveOut []uint32
}

// canFail reports whether the instruction described by e may end the
// program (a load past the packet or without metadata, a division by zero)
// at a point where s holds.
func (t *optValues) canFail(e *optEffect, s *optState) bool {
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
		if f := s.facts.get(t.num(optVal{kind: optKLen})); f != nil {
			known = max(known, uint64(f.lo))
		}
		return e.loadEnd > known
	}
	return true
}

// step applies one instruction to s.
func (t *optValues) step(e *optEffect, s *optState) {
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
func (t *optValues) edgeState(b *optBlock, out *optState, slot int) optState {
	s := *out
	if b.term == optTermCond {
		if vn, k, ok := t.condOperand(b, &out.regs); ok {
			s.facts = out.facts.with(t, vn, b.op, k, slot == 0)
		}
	}
	return s
}

// edgeStateIn is edgeState with a small set of facts built in buf, which
// the caller owns.
func (t *optValues) edgeStateIn(buf []optFact, b *optBlock, out *optState, slot int) optState {
	s := *out
	s.facts = out.facts.owned(buf)
	if b.term == optTermCond {
		if vn, k, ok := t.condOperand(b, &out.regs); ok {
			s.facts = s.facts.withOwned(t, vn, b.op, k, slot == 0)
		}
	}
	return s
}

// condOperand returns the value a conditional jump tests and its constant
// operand, when the operand is a constant (K, or an X known to be one).
func (t *optValues) condOperand(b *optBlock, r *optRegs) (optVN, uint32, bool) {
	if b.op&optSrcX == 0 {
		return r.a, b.k, true
	}
	if c, ok := t.isConst(r.x); ok {
		return r.a, c, true
	}
	return 0, 0, false
}

// joinState merges the states of two paths into block bi.
func (t *optValues) joinState(bi int, a, b *optState) optState {
	s := optState{minLen: min(a.minLen, b.minLen)}
	s.regs = t.joinRegs(bi, &a.regs, &b.regs)
	s.facts = joinFacts(t, a.facts, b.facts)
	if n := min(len(a.avail), len(b.avail)); n > 0 {
		s.avail = make([]optVN, 0, n)
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
func (t *optValues) joinRegs(bi int, a, b *optRegs) optRegs {
	if *a == *b {
		return *a
	}
	join := func(r int, x, y optVN) optVN {
		switch {
		case x == y:
			return x
		case x == optVUninit || y == optVUninit:
			return optVUninit
		}
		return t.phi(bi, r)
	}
	var r optRegs
	r.a = join(optRegA, a.a, b.a)
	r.x = join(optRegX, a.x, b.x)
	for i := range r.m {
		r.m[i] = join(optRegM+i, a.m[i], b.m[i])
	}
	return r
}

// analyze computes states and liveness for the live blocks of g; with full
// unset the states hold only the registers' values. It fails on a scratch
// load that may come before any store.
func (t *optValues) analyze(g *optCFG, full bool) (*optAnalysis, error) {
	t.analyses++
	n := len(g.blocks)
	an := t.spare
	t.spare = nil
	if an == nil {
		an = &optAnalysis{}
	}
	an.full = full
	an.order = g.topoInto(an.order[:0])
	an.pos = optResize(an.pos, n)
	an.preds = optResize(an.preds, n)
	an.entry = optResize(an.entry, n)
	an.out = optResize(an.out, n)
	an.liveIn = optResize(an.liveIn, n)
	an.liveOut = optResize(an.liveOut, n)
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
			an.preds[b.succ[s]] = append(an.preds[b.succ[s]], optEdge{bi, s})
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
func (t *optValues) release(an *optAnalysis) {
	t.spare = an
}

// evalBlock computes the entry state of block bi from the states of its
// predecessors, and its state after its instructions.
func (t *optValues) evalBlock(g *optCFG, an *optAnalysis, bi int) error {
	b := g.blocks[bi]
	t.work += 8 + len(b.insns)
	for _, e := range an.preds[bi] {
		t.work += 4 + len(an.out[e.pred].avail)
	}
	var s optState
	switch {
	case bi == 0:
		s.regs.a, s.regs.x = optVZero, optVZero
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
			return fmt.Errorf("%w: block at %d, instruction %d", errOptUninitScratch, b.order, ii)
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
func (an *optAnalysis) evalLive(g *optCFG, bi int) bool {
	b := g.blocks[bi]
	var live uint32
	switch b.term {
	case optTermRet:
		if b.op == optRetA {
			live = 1 << optRegA
		}
	case optTermCond:
		live = 1 << optRegA
		if b.op&optSrcX != 0 {
			live |= 1 << optRegX
		}
		live |= an.liveIn[b.succ[0]] | an.liveIn[b.succ[1]]
	case optTermJump:
		live = an.liveIn[b.succ[0]]
	}
	an.liveOut[bi] = live
	for j := len(b.insns) - 1; j >= 0; j-- {
		dst, uses := optDefUse(b.insns[j])
		if dst >= 0 {
			live &^= 1 << dst
		}
		live |= uses
	}
	changed := an.liveIn[bi] != live
	an.liveIn[bi] = live
	return changed
}

// optDefUse returns the register an instruction writes (-1 for none) and
// the registers it reads.
func optDefUse(ri bpf.RawInstruction) (int, uint32) {
	switch ri.Op & 0x07 {
	case optClsLD:
		switch ri.Op & 0xe0 {
		case optModeMEM:
			return optRegA, 1 << (optRegM + ri.K&15)
		case optModeIND:
			return optRegA, 1 << optRegX
		case optModeABS:
			if ri.K >= ancillaryBase && !optPureAncillary(ri.K-ancillaryBase) {
				return optRegA, 1<<optRegA | 1<<optRegX
			}
		}
		return optRegA, 0
	case optClsLDX:
		if ri.Op&0xe0 == optModeMEM {
			return optRegX, 1 << (optRegM + ri.K&15)
		}
		return optRegX, 0
	case optClsST:
		return optRegM + int(ri.K&15), 1 << optRegA
	case optClsSTX:
		return optRegM + int(ri.K&15), 1 << optRegX
	case optClsALU:
		if ri.Op&optSrcX != 0 && ri.Op&0xf0 != optALUNeg {
			return optRegA, 1<<optRegA | 1<<optRegX
		}
		return optRegA, 1 << optRegA
	case optClsMISC:
		if ri.Op == optTAX {
			return optRegX, 1 << optRegA
		}
		return optRegA, 1 << optRegX
	}
	return -1, 0
}
