package opt

import (
	"math/bits"
	"slices"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// peephole rewrites short instruction patterns at the end of blocks and
// around index registers, using liveness:
//   - "and #m; jeq #0" becomes "jset #m" with the branches swapped, and
//     "and #m" before "jgt #0", "jset #k" or "jeq #m" (m one bit) folds
//     into a jset, when nothing reads A afterwards;
//   - "tax" of A = X+c whose only readers are indirect loads is dropped and
//     c added to the loads' offsets ([x + k] then reads X+c+k as before).
func (t *values) peephole(g *graph, an *analysis) bool {
	changed := false
	for _, bi := range an.order {
		b := g.blocks[bi]
		if t.foldAndJump(b, an) {
			changed = true
		}
		if t.foldIndexOffset(b, an.entry[bi].regs, an.liveOut[bi]) {
			changed = true
		}
	}
	return changed
}

func (t *values) foldAndJump(b *block, an *analysis) bool {
	n := len(b.insns)
	if b.term != termCond || b.op&cbpf.X != 0 || n == 0 {
		return false
	}
	last := b.insns[n-1]
	if last.Op != cbpf.ALU|cbpf.AND {
		return false
	}
	if (an.liveIn[b.succ[0]]|an.liveIn[b.succ[1]])&(1<<regA) != 0 {
		return false
	}
	m := last.K
	switch b.op & 0xf0 {
	case cbpf.JEQ:
		switch {
		case b.k == 0:
			b.succ[0], b.succ[1] = b.succ[1], b.succ[0]
		case b.k == m && bits.OnesCount32(m) == 1:
		default:
			return false
		}
	case cbpf.JGT:
		if b.k != 0 {
			return false
		}
	case cbpf.JSET:
		m &= b.k
	default:
		return false
	}
	b.op, b.k = cbpf.JMP|cbpf.JSET, m
	b.insns = slices.Delete(b.insns, n-1, n)
	return true
}

func (t *values) foldIndexOffset(b *block, regs registers, liveOut uint32) bool {
	for i, ri := range b.insns {
		e := t.effect(ri, &regs)
		if ri.Op == cbpf.MISC|cbpf.TAX {
			if c, ok := t.offsetFrom(regs.a, regs.x); ok && t.onlyIndexUses(b.insns[i+1:], liveOut) {
				for j := i + 1; j < len(b.insns); j++ {
					dst, uses := defUse(b.insns[j])
					if uses&(1<<regX) != 0 {
						b.insns[j].K += c
					}
					if dst == regX {
						break
					}
				}
				b.insns = slices.Delete(b.insns, i, i+1)
				return true
			}
		}
		if e.dst >= 0 {
			regs.set(e.dst, e.val)
		}
	}
	return false
}

// offsetFrom returns c when a is the value x + c.
func (t *values) offsetFrom(a, x vnum) (uint32, bool) {
	v := t.vals[a]
	if v.kind != kindALU || v.k != cbpf.ADD {
		return 0, false
	}
	if c, ok := t.isConst(v.b); ok && v.a == x {
		return c, true
	}
	if c, ok := t.isConst(v.a); ok && v.b == x {
		return c, true
	}
	return 0, false
}

// onlyIndexUses reports whether, until X is written again, only indirect
// loads read X, and X is not read after the block when it is not written.
func (t *values) onlyIndexUses(rest []bpf.RawInstruction, liveOut uint32) bool {
	for _, ri := range rest {
		dst, uses := defUse(ri)
		if uses&(1<<regX) != 0 && !(ri.Op&0x07 == cbpf.LD && ri.Op&0xe0 == cbpf.IND) {
			return false
		}
		if dst == regX {
			return true
		}
	}
	return liveOut&(1<<regX) == 0
}
