package opt

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// thread moves edges past the blocks whose branch the path decides, bottom
// up: an edge into a block whose two branches go to the same place goes
// there instead, and an edge into a block that tests what an edge
// dominating it tested (the same operation on the same value of A)
// goes to the branch that test took, as long as what the new successor
// reads is unchanged. The blocks skipped are not run any more: their loads
// with them (libpcap's optimizer does the same).
//
// A test is decided by a dominating edge that made the same comparison
// of the same value (true on its true edge, false on its false edge), and
// an equality test by the true edge of an equality test of the same value
// with another constant (false).
func (o *optimizer) thread() {
	// A small program asks the dominators of each block (a few) directly;
	// a large one indexes the facts first (dominatingFact).
	o.walkFacts = len(o.order) <= maxWalkFacts
	if !o.walkFacts {
		o.findFacts()
	}
	for j := len(o.order) - 1; j >= 0; j-- {
		p := o.order[j]
		b := &o.b[p]
		for slot := 0; slot < b.nsucc(); slot++ {
			o.threadEdge(p, slot)
		}
	}
}

// threadEdge threads the edge leaving block p by slot.
func (o *optimizer) threadEdge(p int32, slot int) {
	pb := &o.b[p]
	s := pb.succ(slot)
	sb := &o.b[s]
	o.work++
	if sb.isLeaf() {
		return
	}
	if sb.jt == sb.jf && (sb.isCond() || liveStmts(sb.stmts) == 0) {
		if t := sb.jt; !o.conflict(p, t, s) {
			pb.setSucc(slot, t)
			o.changed, o.moved = true, true
			o.shape++
			s = t
		}
	}
	for {
		if !o.b[s].isCond() {
			return
		}
		t := o.decided(p, slot, s)
		if t < 0 || o.conflict(p, t, s) {
			return
		}
		pb.setSucc(slot, t)
		o.changed = true
		o.shape++
		s = t
	}
}

// decided returns the successor of block c that the edge leaving p by
// slot (into c or, after threading, into a block c follows) decides, or
// -1. The edges that decide are that edge and the edges that dominate it:
// the one edge into each block that dominates p and has one edge in
// (findFacts indexes them). Of those that decide, the nearest wins (only
// on a path no packet takes could two disagree).
func (o *optimizer) decided(p int32, slot int, c int32) int32 {
	cb := &o.b[c]
	a := cb.val[atomA]
	if a == unknown || cb.oval == unknown {
		return -1
	}
	if t := o.decides(p, slot, cb); t >= 0 {
		return t
	}
	if o.walkFacts {
		return o.walkDecided(p, cb)
	}
	pre := o.fx.pre[p]
	if j := o.dominatingFact(factKey{a: a, oval: cb.oval, op: cb.op}, pre); j >= 0 {
		if o.fx.facts[j].slot == 0 {
			return cb.jt
		}
		return cb.jf
	}
	if cb.op == cbpf.JMP|cbpf.JEQ|cbpf.K {
		// An equality test of the same value with another constant held.
		if j := o.dominatingFact(factKey{a: a, op: cb.op, eq: true}, pre); j >= 0 {
			return cb.jf
		}
	}
	return -1
}

// maxWalkFacts is the most blocks for which decided walks up the
// dominator tree: the walks cost the depth of the tree each, which grows
// with the program.
const maxWalkFacts = 64

// walkDecided is decided's search of the dominating edges, up the
// dominator tree from p: the first block with one edge in whose edge
// tells the outcome of cb's test (the nearest fact) decides; an equality
// test's true edge for the value with another constant decides when no
// such fact exists.
func (o *optimizer) walkDecided(p int32, cb *block) int32 {
	a, oval, op := cb.val[atomA], cb.oval, cb.op
	eq := op == cbpf.JMP|cbpf.JEQ|cbpf.K
	other := false // an equality with another constant held
	for v := p; ; v = o.b[v].idom {
		o.work++
		if v == o.root {
			break
		}
		if o.predN[v] != 1 {
			continue
		}
		e := o.predArena[o.predOff[v]]
		u := &o.b[e/2]
		if u.op != op || u.val[atomA] != a || !u.isCond() || u.oval == unknown {
			continue
		}
		if u.oval == oval {
			if e%2 == 0 {
				return cb.jt
			}
			return cb.jf
		}
		other = other || eq && e%2 == 0
	}
	if other {
		return cb.jf
	}
	return -1
}

// factIndex is findFacts's index of the facts of a large program.
type factIndex struct {
	facts    []factEntry
	groups   []factGroup
	placed   []placedFact
	factTab  []int32
	domSeq   []int32 // the blocks in preorder of the dominator tree
	pre, end []int32 // the dominator tree: preorder numbers, last of the subtree
}

// factKey is what an edge tells: the outcome of the test op of the value a
// with operand oval; eq keys the true edges of equality tests with a
// constant by the value alone (oval 0).
type factKey struct {
	a, oval vnum
	op      uint16
	eq      bool
}

func (k *factKey) hash() uint64 {
	h := uint64(k.a) | uint64(k.oval)<<32
	h = (h ^ uint64(k.op)<<20) * 0x9e3779b97f4a7c15
	if k.eq {
		h ^= 0x5555
	}
	return h ^ h>>29
}

// factEntry is an edge that tells its key: its slot (0 true, 1 false); the
// block v it goes into, v's only edge in; pre and end, v's place in the
// dominator tree; and enc, the nearest entry of the same key before it
// whose block dominates v (-1).
type factEntry struct {
	slot     int32
	pre, end int32
	enc      int32
}

// factGroup is the entries of one key, facts[at:at+n], in the order of
// the dominator tree.
type factGroup struct {
	key   factKey
	at, n int32
}

// dominatingFact returns the index in o.fx.facts of the deepest fact of key
// k whose block dominates the block numbered pre, or -1: among the
// entries of the key, the last one placed at or before pre, or the
// nearest enclosing one that still holds pre.
func (o *optimizer) dominatingFact(k factKey, pre int32) int {
	mask := uint64(len(o.fx.factTab) - 1)
	h := k.hash() & mask
	for {
		gi := o.fx.factTab[h]
		if gi < 0 {
			return -1
		}
		if g := &o.fx.groups[gi]; g.key == k {
			list := o.fx.facts[g.at : g.at+g.n]
			// The last entry placed at or before pre (binary search).
			lo, hi := 0, len(list)
			for lo < hi {
				m := int(uint(lo+hi) >> 1)
				if list[m].pre <= pre {
					lo = m + 1
				} else {
					hi = m
				}
			}
			o.work += 2
			for j := lo - 1; j >= 0; j = int(list[j].enc) {
				if list[j].end >= pre {
					return int(g.at) + j
				}
			}
			return -1
		}
		h = (h + 1) & mask
	}
}

// findFacts numbers the dominator tree (so that ancestry is a comparison)
// and indexes the edges that can decide a test: the one edge into each
// block that has one edge in, out of a test of a known value.
func (o *optimizer) findFacts() {
	n := len(o.b)
	if o.fx == nil {
		tab := 16
		for tab < 2*n {
			tab *= 2
		}
		// groups, placed and facts are lists that grow as needed: a
		// chain's blocks hold far fewer facts than their bounds (20
		// ports: 90 groups and 258 facts of 924 each).
		o.fx = &factIndex{
			factTab: make([]int32, 2*tab), domSeq: make([]int32, 0, n),
			pre: make([]int32, n), end: make([]int32, n),
			groups: make([]factGroup, 0, n/4+16), placed: make([]placedFact, 0, n/2+16),
		}
	}
	// Children lists of the dominator tree by counting, then a walk.
	cnt := resize(o.count, n+1)
	clear(cnt)
	for _, i := range o.order {
		if d := o.b[i].idom; i != o.root && d >= 0 {
			cnt[d+1]++
		}
	}
	for i := 1; i <= n; i++ {
		cnt[i] += cnt[i-1]
	}
	kids := resize(o.kids, len(o.order))
	fill := resize(o.iter, n)
	copy(fill, cnt[:n])
	for _, i := range o.order {
		if d := o.b[i].idom; i != o.root && d >= 0 {
			kids[fill[d]] = i
			fill[d]++
		}
	}
	copy(fill, cnt[:n])
	num := int32(0)
	seq := o.fx.domSeq[:0] // the blocks in preorder
	stack := append(o.stack[:0], o.root)
	o.fx.pre[o.root] = num
	num++
	seq = append(seq, o.root)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		if fill[i] < cnt[i+1] {
			c := kids[fill[i]]
			fill[i]++
			o.fx.pre[c] = num
			num++
			seq = append(seq, c)
			stack = append(stack, c)
			continue
		}
		stack = stack[:len(stack)-1]
		o.fx.end[i] = num - 1
	}
	o.count, o.kids, o.iter, o.stack, o.fx.domSeq = cnt, kids, fill, stack, seq

	// The facts, grouped by key (an open-addressing table of the groups),
	// each group in preorder: a pass over the blocks in preorder finds the
	// groups and counts, a second places the entries.
	for i := range o.fx.factTab {
		o.fx.factTab[i] = -1
	}
	o.fx.groups = o.fx.groups[:0]
	mask := uint64(len(o.fx.factTab) - 1)
	group := func(k factKey) int32 {
		h := k.hash() & mask
		for {
			gi := o.fx.factTab[h]
			if gi < 0 {
				o.fx.groups = append(o.fx.groups, factGroup{key: k})
				o.fx.factTab[h] = int32(len(o.fx.groups) - 1)
				return int32(len(o.fx.groups) - 1)
			}
			if o.fx.groups[gi].key == k {
				return gi
			}
			h = (h + 1) & mask
		}
	}
	found := o.fx.placed[:0]
	for _, v := range seq {
		vb := &o.b[v]
		if v == o.root || vb.isLeaf() || o.predN[v] != 1 {
			continue
		}
		e := o.predArena[o.predOff[v]]
		u := &o.b[e/2]
		if !u.isCond() || u.val[atomA] == unknown || u.oval == unknown {
			continue
		}
		p := placedFact{f: factEntry{slot: e % 2, pre: o.fx.pre[v], end: o.fx.end[v], enc: -1}, g2: -1}
		p.g1 = group(factKey{a: u.val[atomA], oval: u.oval, op: u.op})
		o.fx.groups[p.g1].n++
		if p.f.slot == 0 && u.op == cbpf.JMP|cbpf.JEQ|cbpf.K {
			p.g2 = group(factKey{a: u.val[atomA], op: u.op, eq: true})
			o.fx.groups[p.g2].n++
		}
		found = append(found, p)
	}
	at := int32(0)
	for gi := range o.fx.groups {
		o.fx.groups[gi].at, at = at, at+o.fx.groups[gi].n
		o.fx.groups[gi].n = 0
	}
	o.fx.facts = resize(o.fx.facts, int(at))
	for _, p := range found {
		for _, gi := range [2]int32{p.g1, p.g2} {
			if gi >= 0 {
				g := &o.fx.groups[gi]
				o.fx.facts[g.at+g.n] = p.f
				g.n++
			}
		}
	}
	o.fx.placed = found
	// Who encloses whom, in each group.
	open := o.stack[:0]
	for _, g := range o.fx.groups {
		list := o.fx.facts[g.at : g.at+g.n]
		open = open[:0]
		for i := range list {
			f := &list[i]
			for len(open) > 0 && list[open[len(open)-1]].end < f.pre {
				open = open[:len(open)-1]
			}
			if len(open) > 0 {
				f.enc = open[len(open)-1]
			}
			open = append(open, int32(i))
		}
	}
	o.stack = open
	o.work += len(o.order) + 2*len(o.fx.facts)
}

// decides returns the successor of cb that the outcome of p's test on its
// edge slot decides, or -1.
func (o *optimizer) decides(p int32, slot int, cb *block) int32 {
	pb := &o.b[p]
	if !pb.isCond() || pb.op != cb.op || pb.val[atomA] != cb.val[atomA] {
		return -1
	}
	if pb.oval == cb.oval {
		if slot == 0 {
			return cb.jt
		}
		return cb.jf
	}
	if slot == 0 && cb.op == cbpf.JMP|cbpf.JEQ|cbpf.K {
		return cb.jf
	}
	return -1
}

// conflict reports whether sending p's edge to block t (instead of
// through via) would change what t or the blocks after it read: a
// register read after t must hold at the exit of p what it holds at the
// exit of t, and a register t reads what via left there.
func (o *optimizer) conflict(p, t, via int32) bool {
	pb, tb, vb := &o.b[p], &o.b[t], &o.b[via]
	for use := tb.outUse; use != 0; {
		a := trailingZeros(use)
		use &^= 1 << a
		if pb.val[a] != tb.val[a] {
			return true
		}
	}
	for use := tb.inUse; use != 0; {
		a := trailingZeros(use)
		use &^= 1 << a
		if pb.val[a] == unknown || pb.val[a] != vb.val[a] {
			return true
		}
	}
	return false
}
