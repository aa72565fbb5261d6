package opt

import (
	"slices"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// simplify rewrites each block with what holds at its entry: instructions
// that write a register with the value it already holds go, values known to
// be constants become immediates, and branches whose outcome is known
// become unconditional.
func (t *values) simplify(g *graph, an *analysis) bool {
	changed := false
	for _, bi := range an.order {
		b := g.blocks[bi]
		s := an.entry[bi]
		s.avail = slices.Clip(s.avail)
		kept := b.insns[:0:0]
		for _, ri := range b.insns {
			e := t.effect(ri, &s.regs)
			if e.dst >= 0 && s.regs.get(e.dst) == e.val {
				changed = true
				continue
			}
			if nri, ok := t.rewrite(ri, &e, &s); ok {
				ri = nri
				changed = true
			}
			t.step(&e, &s)
			kept = append(kept, ri)
		}
		b.insns = kept
		if b.term != termCond {
			if b.term == termRet && b.op == cbpf.RET|cbpf.A {
				if c, ok := t.isConst(s.regs.a); ok {
					b.op, b.k = cbpf.RET|cbpf.K, c
					changed = true
				}
			}
			continue
		}
		if b.op&cbpf.X != 0 {
			if c, ok := t.isConst(s.regs.x); ok {
				b.op, b.k = b.op&^cbpf.X, c
				changed = true
			}
		}
		if vn, k, ok := t.condOperand(b, &s.regs); ok {
			if res, known := t.decide(s.facts, vn, b.op, k); known {
				next := b.succ[1]
				if res {
					next = b.succ[0]
				}
				b.term, b.succ = termJump, [2]int{next, 0}
				changed = true
			}
		}
	}
	return changed
}

// rewrite returns a cheaper form of ri that computes the same value.
func (t *values) rewrite(ri bpf.RawInstruction, e *effect, s *state) (bpf.RawInstruction, bool) {
	c, isConst := t.isConst(e.val)
	switch {
	case isConst && (e.dst == regA || e.dst == regX) && ri.Op&0x07 != cbpf.LD && ri.Op&0x07 != cbpf.LDX:
		// ALU results and register moves of a known constant.
		if e.mayTrap {
			return ri, false
		}
		if e.dst == regA {
			return bpf.RawInstruction{Op: cbpf.LD | cbpf.IMM, K: c}, true
		}
		return bpf.RawInstruction{Op: cbpf.LDX | cbpf.IMM, K: c}, true
	case isConst && ri.Op&0xe0 == cbpf.MEM && (ri.Op&0x07 == cbpf.LD || ri.Op&0x07 == cbpf.LDX):
		return bpf.RawInstruction{Op: ri.Op&0x07 | cbpf.IMM, K: c}, true
	case ri.Op&0x07 == cbpf.ALU && ri.Op&cbpf.X != 0 && ri.Op&0xf0 != cbpf.NEG:
		x, ok := t.isConst(s.regs.x)
		op := uint32(ri.Op & 0xf0)
		if !ok || (x == 0 && (op == cbpf.DIV || op == cbpf.MOD)) || (x >= 32 && (op == cbpf.LSH || op == cbpf.RSH)) {
			return ri, false
		}
		return bpf.RawInstruction{Op: ri.Op &^ cbpf.X, K: x}, true
	case ri.Op&0x07 == cbpf.LD && ri.Op&0xe0 == cbpf.IND:
		x, ok := t.isConst(s.regs.x)
		if !ok || uint64(x)+uint64(ri.K) >= cbpf.AncillaryBase {
			return ri, false
		}
		return bpf.RawInstruction{Op: ri.Op&^0xe0 | cbpf.ABS, K: x + ri.K}, true
	}
	return ri, false
}

// deadCode removes instructions whose result no path uses and that cannot
// end the program.
func (t *values) deadCode(g *graph, an *analysis) bool {
	changed := false
	for _, bi := range an.order {
		b := g.blocks[bi]
		s := an.entry[bi]
		s.avail = slices.Clip(s.avail)
		canFail := make([]bool, len(b.insns))
		for i, ri := range b.insns {
			e := t.effect(ri, &s.regs)
			canFail[i] = t.canFail(&e, &s)
			t.step(&e, &s)
		}
		live := an.liveOut[bi]
		keep := make([]bool, len(b.insns))
		for i := len(b.insns) - 1; i >= 0; i-- {
			dst, uses := defUse(b.insns[i])
			if dst >= 0 && live&(1<<dst) == 0 && !canFail[i] {
				changed = true
				continue
			}
			keep[i] = true
			if dst >= 0 {
				live &^= 1 << dst
			}
			live |= uses
		}
		kept := b.insns[:0:0]
		for i, ri := range b.insns {
			if keep[i] {
				kept = append(kept, ri)
			}
		}
		b.insns = kept
	}
	return changed
}

// rejectAll sends every edge into a block from which every path returns 0
// (or ends the program early, which returns 0 too) to one "ret #0" block.
// It reports whether the whole program rejects every packet.
func (t *values) rejectAll(g *graph, an *analysis) (changed, all bool) {
	zero := make([]bool, len(g.blocks))
	for i := len(an.order) - 1; i >= 0; i-- {
		bi := an.order[i]
		b := g.blocks[bi]
		switch b.term {
		case termRet:
			zero[bi] = b.op == cbpf.RET|cbpf.K && b.k == 0
			if b.op == cbpf.RET|cbpf.A {
				c, ok := t.isConst(an.out[bi].regs.a)
				zero[bi] = ok && c == 0
			}
		case termJump:
			zero[bi] = zero[b.succ[0]]
		case termCond:
			zero[bi] = zero[b.succ[0]] && zero[b.succ[1]]
		}
	}
	if zero[0] {
		return false, true
	}
	ret0 := -1
	for _, bi := range an.order {
		b := g.blocks[bi]
		for s := 0; s < b.nsucc(); s++ {
			target := g.blocks[b.succ[s]]
			if !zero[b.succ[s]] || (target.term == termRet && len(target.insns) == 0) {
				continue
			}
			if ret0 < 0 {
				ret0 = g.retZero()
			}
			b.succ[s] = ret0
			changed = true
		}
	}
	return changed, false
}

// cleanup simplifies the graph's shape: branches to one place become
// jumps, empty blocks are bypassed, a block that is the only way into the
// next one absorbs it, and identical blocks are merged.
func (g *graph) cleanup() bool {
	changed := false
	order := g.topoScratch()
	for _, bi := range order {
		b := g.blocks[bi]
		if b.term == termCond && b.succ[0] == b.succ[1] {
			b.term = termJump
			changed = true
		}
	}
	// Bypass empty jump blocks (not the entry).
	fwd := resize(g.scratch.ints, len(g.blocks))
	g.scratch.ints = fwd
	for i := range fwd {
		fwd[i] = i
	}
	for i := len(order) - 1; i >= 0; i-- {
		bi := order[i]
		b := g.blocks[bi]
		if bi != 0 && b.term == termJump && len(b.insns) == 0 {
			fwd[bi] = fwd[b.succ[0]]
		}
	}
	for _, bi := range order {
		b := g.blocks[bi]
		for s := 0; s < b.nsucc(); s++ {
			if f := fwd[b.succ[s]]; f != b.succ[s] {
				b.succ[s] = f
				changed = true
			}
		}
	}
	// Merge identical blocks, keeping the last (all edges then go forward).
	order = g.topoScratch()
	canon := fwd // done with fwd
	clear(canon)
	// An open-addressing table of the blocks seen, by content.
	size := 16
	for size < 2*len(order) {
		size *= 2
	}
	seen := resize(g.scratch.table, size)
	clear(seen)
	g.scratch.table = seen
	mask := uint64(size - 1)
	for i := len(order) - 1; i >= 0; i-- {
		bi := order[i]
		b := g.blocks[bi]
		for s := 0; s < b.nsucc(); s++ {
			b.succ[s] = canon[b.succ[s]]
		}
		j := b.hash() & mask
		for seen[j] != 0 && !b.same(g.blocks[seen[j]-1]) {
			j = (j + 1) & mask
		}
		if seen[j] != 0 && bi != 0 {
			canon[bi] = int(seen[j] - 1)
			changed = true
			continue
		}
		seen[j] = int32(bi + 1)
		canon[bi] = bi
	}
	// Absorb a successor reached only by an unconditional jump.
	order = g.topoScratch()
	npred := canon // done with canon
	clear(npred)
	for _, bi := range order {
		b := g.blocks[bi]
		for s := 0; s < b.nsucc(); s++ {
			npred[b.succ[s]]++
		}
	}
	for _, bi := range order {
		b := g.blocks[bi]
		for b.term == termJump && b.succ[0] != 0 && npred[b.succ[0]] == 1 && !g.blocks[b.succ[0]].dead {
			next := g.blocks[b.succ[0]]
			b.insns = append(slices.Clip(b.insns), next.insns...)
			b.term, b.op, b.k, b.succ = next.term, next.op, next.k, next.succ
			next.dead = true
			next.insns = nil
			next.term = termRet // unreachable now; keep it inert
			changed = true
		}
	}
	g.topoScratch()
	return changed
}

// hash mixes the contents of a block: what same compares.
func (b *block) hash() uint64 {
	h := uint64(b.term)<<48 ^ uint64(b.op)<<32 ^ uint64(b.k)
	mix := func(v uint64) {
		h = (h ^ v) * 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	mix(0)
	for s := 0; s < b.nsucc(); s++ {
		mix(uint64(b.succ[s]))
	}
	for _, ri := range b.insns {
		mix(uint64(ri.Op)<<32 | uint64(ri.K))
	}
	return h
}

// same reports whether two blocks do the same: the same instructions (jump
// fields aside, which straight-line code does not use) and the same
// terminator to the same successors.
func (b *block) same(c *block) bool {
	if b.term != c.term || b.op != c.op || b.k != c.k || len(b.insns) != len(c.insns) {
		return false
	}
	for s := 0; s < b.nsucc(); s++ {
		if b.succ[s] != c.succ[s] {
			return false
		}
	}
	for i, ri := range b.insns {
		if ri.Op != c.insns[i].Op || ri.K != c.insns[i].K {
			return false
		}
	}
	return true
}
