package opt

import (
	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// chainTerm is one test of a chain: load (if any) then branch.
type chainTerm struct {
	load   []bpf.RawInstruction // nil: tests A as the chain finds it
	vn     vnum
	op     uint16
	k      uint32
	zeroOn int // successor slot that goes to the reject block
}

// regroupChains reorders the tests of chains whose every branch either
// goes on to the next test or rejects the packet ("a and b and not c ..."
// and "not (x == 1 or y == 1 or x == 2 ...)"), so that tests of the same
// field come together and the field is loaded once. Order does not matter
// in such a chain, even for loads that can fail: a failing load rejects
// the packet too, and the packet gets through only when every load
// succeeds and every test passes, in any order.
func (t *values) regroupChains(g *graph, an *analysis) bool {
	changed := false
	inChain := make([]bool, len(g.blocks))
	for _, bi := range an.order {
		if inChain[bi] {
			continue
		}
		chain, terms := t.chainFrom(g, an, bi)
		for _, c := range chain {
			inChain[c] = true
		}
		if len(chain) < 3 {
			continue
		}
		// Group by value, in order of first appearance.
		var groups []vnum
		seen := map[vnum]bool{}
		for _, tm := range terms {
			if !seen[tm.vn] {
				seen[tm.vn] = true
				groups = append(groups, tm.vn)
			}
		}
		t.work += len(groups) * len(terms)
		var sorted []chainTerm
		for _, v := range groups {
			for _, tm := range terms {
				if tm.vn == v {
					sorted = append(sorted, tm)
				}
			}
		}
		if chainLoads(sorted, an.entry[chain[0]].regs.a) >= chainLoads(terms, an.entry[chain[0]].regs.a) {
			continue
		}
		// The load of a value, for tests that used to find it in A.
		loadOf := map[vnum][]bpf.RawInstruction{}
		for _, tm := range terms {
			if tm.load != nil {
				loadOf[tm.vn] = tm.load
			}
		}
		prev := an.entry[chain[0]].regs.a
		ok := true
		for i := range sorted {
			if sorted[i].vn != prev {
				if loadOf[sorted[i].vn] == nil {
					ok = false
					break
				}
				sorted[i].load = loadOf[sorted[i].vn]
			} else {
				sorted[i].load = nil
			}
			prev = sorted[i].vn
		}
		if !ok {
			continue
		}
		zero := g.blocks[chain[0]].succ[terms[0].zeroOn]
		exit := g.blocks[chain[len(chain)-1]].succ[1-terms[len(terms)-1].zeroOn]
		for i, bi := range chain {
			b := g.blocks[bi]
			tm := sorted[i]
			b.insns = append([]bpf.RawInstruction(nil), tm.load...)
			b.op, b.k = tm.op, tm.k
			next := exit
			if i+1 < len(chain) {
				next = chain[i+1]
			}
			b.succ[tm.zeroOn], b.succ[1-tm.zeroOn] = zero, next
		}
		changed = true
	}
	return changed
}

// chainLoads counts the loads a chain of terms needs, starting with a in A.
func chainLoads(terms []chainTerm, a vnum) int {
	n := 0
	for _, tm := range terms {
		if tm.vn != a {
			n++
		}
		a = tm.vn
	}
	return n
}

// chainFrom returns the longest chain starting at block bi: blocks that
// hold at most one load into A and end in a branch with one edge to the
// same reject block (ret #0 that does not read A) and the other to the next
// block of the chain, each reached only from the one before. A must not be
// read after the chain.
func (t *values) chainFrom(g *graph, an *analysis, bi int) ([]int, []chainTerm) {
	var chain []int
	var terms []chainTerm
	zero := -1
	a := an.entry[bi].regs.a
	for cur := bi; ; {
		b := g.blocks[cur]
		if b.term != termCond || b.op&cbpf.X != 0 || len(b.insns) > 1 {
			break
		}
		if len(chain) > 0 && len(an.preds[cur]) != 1 {
			break
		}
		tm := chainTerm{op: b.op, k: b.k, vn: a, zeroOn: -1}
		if len(b.insns) == 1 {
			ri := b.insns[0]
			if ri.Op&0x07 != cbpf.LD || (ri.Op&0xe0 != cbpf.ABS && ri.Op&0xe0 != cbpf.IND && ri.Op&0xe0 != cbpf.IMM && ri.Op&0xe0 != cbpf.LEN) {
				break
			}
			regs := an.entry[cur].regs
			e := t.effect(ri, &regs)
			if ri.Op&0xe0 == cbpf.ABS && ri.K >= cbpf.AncillaryBase && !pureAncillary(ri.K-cbpf.AncillaryBase) {
				break
			}
			if ri.Op&0xe0 == cbpf.IND && regs.x != an.entry[bi].regs.x {
				break
			}
			tm.load, tm.vn = b.insns, e.val
		}
		for s := 0; s < 2; s++ {
			z := g.blocks[b.succ[s]]
			if z.term == termRet && z.op == cbpf.RET|cbpf.K && z.k == 0 && len(z.insns) == 0 && (zero < 0 || zero == b.succ[s]) {
				tm.zeroOn = s
				break
			}
		}
		if tm.zeroOn < 0 {
			break
		}
		zero = b.succ[tm.zeroOn]
		next := b.succ[1-tm.zeroOn]
		if an.liveIn[next]&(1<<regA) != 0 && !t.continuesChain(g, an, next, zero) {
			break
		}
		chain = append(chain, cur)
		terms = append(terms, tm)
		a = tm.vn
		if next == cur || g.blocks[next].order <= b.order {
			break
		}
		cur = next
	}
	// The block after the chain must not read A.
	for len(chain) > 0 {
		last := g.blocks[chain[len(chain)-1]]
		if an.liveIn[last.succ[1-terms[len(terms)-1].zeroOn]]&(1<<regA) == 0 {
			break
		}
		chain, terms = chain[:len(chain)-1], terms[:len(terms)-1]
	}
	return chain, terms
}

// continuesChain reports whether block bi could be the next link of a chain
// rejecting to zero (it then reads A only as a chain test does).
func (t *values) continuesChain(g *graph, an *analysis, bi, zero int) bool {
	b := g.blocks[bi]
	if b.term != termCond || b.op&cbpf.X != 0 || len(b.insns) > 1 || len(an.preds[bi]) != 1 {
		return false
	}
	return b.succ[0] == zero || b.succ[1] == zero
}
