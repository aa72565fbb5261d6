package opt

import "slices"

// threader threads edges (sends an edge P->S straight past the branches
// of S that the path through P decides) one edge at a time, always the
// first threadable edge in block order, until none is left.
//
// Every redirected edge can change what holds after it and what is live
// before it, so the next search must see an up-to-date analysis. Instead
// of analyzing the whole graph again, the threader marks the edge's old and
// new targets stale and recomputes stale blocks when the search reaches
// them, in block order (a block whose state comes out as before does not
// make its successors stale); it recomputes the liveness of the blocks
// before the edge until it comes out as before. It also remembers, for
// every edge it could not thread, the blocks the search read; the next
// search starts at the first edge whose search read a block that changed
// since, and skips edges whose blocks did not. The result is the same as
// analyzing everything again after each edge and searching from the first,
// at a fraction of the cost.
type threader struct {
	t  *values
	g  *graph
	an *analysis

	clock   uint64
	stateAt []uint64     // clock when a block's out state last changed
	shapeAt []uint64     // clock when a block's successors or liveIn last changed
	memo    []threadMemo // by edge: 2*block + slot
	visited []int32      // scratch: the blocks one search reads

	// watchers lists by block the edges (2*block + slot) whose memo read
	// it; resume is the position in an.order where the next search starts.
	watchers [][]int32
	resume   int

	// stale marks by position in an.order the blocks whose state must be
	// recomputed before the search looks at them; dirtyLive those whose
	// liveness must be, in the range liveLo..liveHi.
	stale          []bool
	dirtyLive      []bool
	liveLo, liveHi int
}

// threadMemo records that an edge could not be threaded.
type threadMemo struct {
	at      uint64  // clock of the search; 0: none
	visited []int32 // the blocks the search read
}

func newThreader(t *values, g *graph, an *analysis) *threader {
	n := len(g.blocks)
	th := &threader{
		t: t, g: g, an: an,
		clock:     1,
		stateAt:   make([]uint64, n),
		shapeAt:   make([]uint64, n),
		memo:      make([]threadMemo, 2*n),
		watchers:  make([][]int32, n),
		stale:     make([]bool, len(an.order)),
		dirtyLive: make([]bool, len(an.order)),
	}
	th.liveLo, th.liveHi = len(an.order), -1
	return th
}

// threadOne threads the first edge in block order that can be threaded. It
// reports whether it found one.
func (th *threader) threadOne() (bool, error) {
	g, an, t := th.g, th.an, th.t
	for i := th.resume; i < len(an.order); i++ {
		pi := an.order[i]
		p := g.blocks[pi]
		if p.dead {
			continue
		}
		if th.stale[i] {
			if err := th.update(i); err != nil {
				return false, err
			}
		}
		for slot := 0; slot < p.nsucc(); slot++ {
			t.work++
			if th.known(pi, slot) {
				continue
			}
			if si := p.succ[slot]; g.blocks[si].term != termCond {
				// Nothing to decide: the search would stop at once.
				th.remember(pi, slot, append(th.visited[:0], int32(si)))
				continue
			}
			edge := t.edgeStateIn(t.walkFacts, p, &an.out[pi], slot)
			th.visited = th.visited[:0]
			target, ok := t.threadTarget(g, an, p.succ[slot], &edge, &th.visited)
			if buf := edge.facts.scratch(); buf != nil {
				t.walkFacts = buf
			}
			if !ok {
				th.remember(pi, slot, th.visited)
				continue
			}
			th.resume = i
			th.redirect(pi, slot, target)
			return true, nil
		}
	}
	th.resume = len(an.order)
	return false, nil
}

// remember records that edge (pi, slot) cannot be threaded, as long as the
// blocks in visited do not change.
func (th *threader) remember(pi, slot int, visited []int32) {
	m := &th.memo[2*pi+slot]
	m.at = th.clock
	m.visited = append(m.visited[:0], visited...)
	for _, v := range visited {
		th.watchers[v] = append(th.watchers[v], int32(2*pi+slot))
	}
}

// known reports whether edge (pi, slot) was found not threadable and
// nothing that search read has changed since.
func (th *threader) known(pi, slot int) bool {
	m := &th.memo[2*pi+slot]
	if m.at == 0 || th.stateAt[pi] > m.at || th.shapeAt[pi] > m.at {
		return false
	}
	for _, v := range m.visited {
		if th.shapeAt[v] > m.at {
			return false
		}
	}
	return true
}

// redirect sends edge (pi, slot) to block ti, marks the blocks whose state
// may change stale and brings liveness up to date.
func (th *threader) redirect(pi, slot, ti int) {
	g, an := th.g, th.an
	th.clock++
	p := g.blocks[pi]
	si := p.succ[slot]
	p.succ[slot] = ti
	th.reshaped(pi)
	th.removePred(si, edge{pi, slot})
	th.addPred(ti, edge{pi, slot})
	th.markStale(si)
	th.markStale(ti)
	if len(an.preds[si]) == 0 && si != 0 {
		th.kill(si)
	}
	th.markLive(pi)
	th.updateLiveness()
}

// reshaped records that block bi's successors or liveIn changed: the
// searches that read it must run again.
func (th *threader) reshaped(bi int) {
	th.shapeAt[bi] = th.clock
	for _, e := range th.watchers[bi] {
		if p := th.an.pos[e/2]; p >= 0 {
			th.resume = min(th.resume, p)
		}
	}
	th.watchers[bi] = th.watchers[bi][:0]
}

// kill marks block bi, which no edge reaches any more, dead, and the
// blocks only it reached.
func (th *threader) kill(bi int) {
	b := th.g.blocks[bi]
	b.dead = true
	th.reshaped(bi)
	for s := 0; s < b.nsucc(); s++ {
		si := b.succ[s]
		th.removePred(si, edge{bi, s})
		th.markStale(si)
		if len(th.an.preds[si]) == 0 && si != 0 && !th.g.blocks[si].dead {
			th.kill(si)
		}
	}
}

// addPred inserts edge e into the predecessors of bi, which the analysis
// keeps in block order.
func (th *threader) addPred(bi int, e edge) {
	pos := th.an.pos
	preds := th.an.preds[bi]
	i, _ := slices.BinarySearchFunc(preds, e, func(x, y edge) int {
		if pos[x.pred] != pos[y.pred] {
			return pos[x.pred] - pos[y.pred]
		}
		return x.slot - y.slot
	})
	th.an.preds[bi] = slices.Insert(preds, i, e)
}

func (th *threader) removePred(bi int, e edge) {
	preds := th.an.preds[bi]
	if i := slices.Index(preds, e); i >= 0 {
		th.an.preds[bi] = slices.Delete(preds, i, i+1)
	}
}

func (th *threader) markStale(bi int) {
	if p := th.an.pos[bi]; p >= 0 {
		th.stale[p] = true
	}
}

func (th *threader) markLive(bi int) {
	if p := th.an.pos[bi]; p >= 0 {
		th.dirtyLive[p] = true
		th.liveLo, th.liveHi = min(th.liveLo, p), max(th.liveHi, p)
	}
}

// update recomputes the stale block at position i, whose predecessors are
// all up to date, and makes its successors stale if its state changed.
func (th *threader) update(i int) error {
	g, an := th.g, th.an
	th.stale[i] = false
	bi := an.order[i]
	b := g.blocks[bi]
	old := an.out[bi]
	if err := th.t.evalBlock(g, an, bi); err != nil {
		return err
	}
	if !sameState(&old, &an.out[bi]) {
		th.stateAt[bi] = th.clock
		for s := 0; s < b.nsucc(); s++ {
			th.markStale(b.succ[s])
		}
	}
	return nil
}

// updateLiveness recomputes the marked blocks in reverse order, and the
// predecessors of every block whose liveIn changed.
func (th *threader) updateLiveness() {
	g, an := th.g, th.an
	for i := th.liveHi; i >= th.liveLo; i-- {
		if !th.dirtyLive[i] {
			continue
		}
		th.dirtyLive[i] = false
		bi := an.order[i]
		if g.blocks[bi].dead {
			continue
		}
		th.t.work++
		if an.evalLive(g, bi) {
			th.reshaped(bi)
			for _, e := range an.preds[bi] {
				th.markLive(e.pred)
			}
		}
	}
	th.liveLo, th.liveHi = len(an.order), -1
}

// sameState reports whether two states are the same.
func sameState(a, b *state) bool {
	return a.regs == b.regs && a.minLen == b.minLen && slices.Equal(a.avail, b.avail) && sameFacts(a.facts, b.facts)
}

// threadTarget follows S (and the blocks after it) from the state on an
// edge into S as long as their branches are decided, and returns the last
// block reached whose entry sees the same live values as S's entry did. It
// appends the blocks it reads to visited. The facts of edge are the
// caller's to change (see factSet.owned); they are left as the search
// ends.
func (t *values) threadTarget(g *graph, an *analysis, si int, edge *state, visited *[]int32) (int, bool) {
	s := *edge
	defer func() { edge.facts = s.facts }()
	best, found := si, false
	*visited = append(*visited, int32(si))
	for steps := 0; steps < 64; steps++ {
		b := g.blocks[si]
		t.work += 8 + len(b.insns)
		if b.term != termCond {
			break
		}
		for _, ri := range b.insns {
			e := t.effect(ri, &s.regs)
			if e.badScrach || t.canFail(&e, &s) {
				return best, found
			}
			t.step(&e, &s)
		}
		vn, k, ok := t.condOperand(b, &s.regs)
		if !ok {
			break
		}
		res, known := t.decide(s.facts, vn, b.op, k)
		if !known {
			break
		}
		s.facts = s.facts.withOwned(t, vn, b.op, k, res)
		si = b.succ[1]
		if res {
			si = b.succ[0]
		}
		*visited = append(*visited, int32(si))
		// Skipping everything up to si must leave what si reads unchanged.
		live := an.liveIn[si]
		same := true
		for r := 0; r < regM+16; r++ {
			if live&(1<<r) != 0 && s.regs.get(r) != edge.regs.get(r) {
				same = false
				break
			}
		}
		if same {
			best, found = si, true
		}
	}
	return best, found
}
