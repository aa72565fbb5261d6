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
		for slot, n := 0, b.nsucc(); slot < n; slot++ {
			o.work++
			if !o.b[b.succ(slot)].isLeaf() {
				o.threadEdge(p, slot) // (an edge into a return stays)
			}
		}
	}
}

// threadEdge threads the edge leaving block p by slot, into a block that
// is no return.
func (o *optimizer) threadEdge(p int32, slot int) {
	pb := &o.b[p]
	s := pb.succ(slot)
	sb := &o.b[s]
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
	fx := o.fx
	pre := fx.pre[p]
	if j := o.dominatingFact(fx.test[c], pre); j >= 0 {
		if fx.facts[j].slot == 0 {
			return cb.jt
		}
		return cb.jf
	}
	if cb.op == cbpf.JMP|cbpf.JEQ|cbpf.K {
		// An equality test of the same value with another constant held.
		if j := o.dominatingFact(fx.eqTest[c], pre); j >= 0 {
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
	facts  []factEntry // by group, each group's in preorder
	groups []factGroup
	// The group of the key of each test, of a known value and operand,
	// and of its equality key (equality tests with a constant; -1 else).
	test, eqTest []int32
	factTab      []int32 // open addressing over the groups' keys: 1 + group, 0 free
	found        []placedFact
	domSeq       []int32 // the blocks in preorder of the dominator tree
	pre, end     []int32 // the dominator tree: preorder numbers, last of the subtree
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

// placedFact is findFacts's scratch: a fact, by the preorder number of
// the block its edge goes into, and 2*group + its edge's slot.
type placedFact struct {
	pre, group int32
}

// factGroup is the entries of one key, facts[at:at+n], in the order of
// the dominator tree.
type factGroup struct {
	key   factKey
	at, n int32
}

// dominatingFact returns the index in o.fx.facts of the deepest fact of
// group g whose block dominates the block numbered pre, or -1: among the
// entries of the group, the last one placed at or before pre, or the
// nearest enclosing one that still holds pre.
func (o *optimizer) dominatingFact(g int32, pre int32) int {
	if g < 0 {
		return -1
	}
	gr := &o.fx.groups[g]
	if gr.n == 0 {
		return -1 // a key no edge tells
	}
	list := o.fx.facts[gr.at : gr.at+gr.n]
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
			return int(gr.at) + j
		}
	}
	return -1
}

// findFacts numbers the dominator tree (so that ancestry is a comparison)
// and indexes the edges that can decide a test: the one edge into each
// block that has one edge in, out of a test of a known value. Each test of
// a known value and operand gets the group of its key, the edges out of
// it go to that group: a test's look-up (dominatingFact) hashes nothing.
func (o *optimizer) findFacts() {
	n := len(o.b)
	if o.fx == nil {
		tab := 16
		for tab < 2*n {
			tab *= 2
		}
		ints := make([]int32, 2*tab+5*n)
		cut := func(k int) []int32 {
			s := ints[:k:k]
			ints = ints[k:]
			return s
		}
		// groups and facts are lists that grow as needed: a chain's
		// blocks hold far fewer groups and facts than their bounds.
		o.fx = &factIndex{
			factTab: cut(2 * tab), domSeq: cut(n)[:0], pre: cut(n), end: cut(n),
			test: cut(n), eqTest: cut(n), groups: make([]factGroup, 0, n/4+16),
			found: make([]placedFact, 0, 2*n), // two groups per fact at most
		}
	}
	fx := o.fx
	// The dominator tree in preorder, without lists of children: a
	// block's immediate dominator comes before it in o.order (the order
	// findDominators worked in), so a pass bottom up sizes the subtrees
	// and one top down gives each block the numbers after those of its
	// dominator's children before it. Returns are in no tree.
	size := fx.end // the subtree sizes, then the ends
	clear(size)
	root := o.root
	for j := len(o.order) - 1; j >= 0; j-- {
		if i := o.order[j]; i != root {
			if d := o.b[i].idom; d >= 0 {
				size[i]++
				size[d] += size[i]
			}
		}
	}
	size[root]++
	next := resize(o.iter, n) // the next number in each block's subtree
	seq := fx.domSeq[:size[root]]
	fx.pre[root], next[root], seq[0] = 0, 1, root
	fx.end[root] = size[root] - 1
	for _, i := range o.order {
		if d := o.b[i].idom; i != root && d >= 0 {
			at := next[d]
			next[d] += size[i]
			fx.pre[i], next[i], seq[at] = at, at+1, i
			fx.end[i] = at + size[i] - 1
		}
	}
	o.iter, fx.domSeq = next, seq

	// The groups: one per key of the tests (an open-addressing table of
	// the keys).
	clear(fx.factTab)
	fx.groups = fx.groups[:0]
	// The equality key is the value's alone: its group by value (o.aCount
	// is pullups's scratch, counted again there), -1 until made.
	eqOf := resize(o.aCount, len(o.vals.keys))
	for i := range eqOf {
		eqOf[i] = -1
	}
	o.aCount = eqOf
	for _, i := range o.order {
		b := &o.b[i]
		fx.test[i], fx.eqTest[i] = -1, -1
		a := b.val[atomA]
		if !b.isCond() || a == unknown || b.oval == unknown {
			continue
		}
		fx.test[i] = fx.group(factKey{a: a, oval: b.oval, op: b.op})
		if b.op == cbpf.JMP|cbpf.JEQ|cbpf.K {
			if eqOf[a] < 0 {
				eqOf[a] = fx.group(factKey{a: a, op: b.op, eq: true})
			}
			fx.eqTest[i] = eqOf[a]
		}
	}
	// The facts in preorder, with their groups, then placed group by
	// group (a counting sort: the entries of each group stay in
	// preorder).
	found := fx.found[:0]
	for at, v := range seq {
		if v == root || o.predN[v] != 1 {
			continue // (returns are in no tree)
		}
		e := o.predArena[o.predOff[v]]
		g := fx.test[e/2]
		if g < 0 {
			continue // not a test of a known value
		}
		found = append(found, placedFact{pre: int32(at), group: 2*g + e%2})
		fx.groups[g].n++
		if g = fx.eqTest[e/2]; e%2 == 0 && g >= 0 {
			found = append(found, placedFact{pre: int32(at), group: 2 * g})
			fx.groups[g].n++
		}
	}
	fx.found = found
	at := int32(0)
	for gi := range fx.groups {
		g := &fx.groups[gi]
		g.at, at, g.n = at, at+g.n, 0
	}
	fx.facts = resize(fx.facts, int(at))
	for _, pf := range found {
		g := &fx.groups[pf.group/2]
		fx.facts[g.at+g.n] = factEntry{slot: pf.group % 2, pre: pf.pre, end: fx.end[seq[pf.pre]], enc: -1}
		g.n++
	}
	// Who encloses whom, in each group.
	open := o.stack[:0]
	for _, g := range fx.groups {
		list := fx.facts[g.at : g.at+g.n]
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
	o.work += len(o.order) + 2*len(fx.facts)
}

// group returns the group of key k, made when k has none.
func (fx *factIndex) group(k factKey) int32 {
	mask := uint64(len(fx.factTab) - 1)
	h := k.hash() & mask
	for {
		gi := fx.factTab[h] - 1
		if gi < 0 {
			fx.groups = append(fx.groups, factGroup{key: k})
			fx.factTab[h] = int32(len(fx.groups))
			return int32(len(fx.groups) - 1)
		}
		if fx.groups[gi].key == k {
			return gi
		}
		h = (h + 1) & mask
	}
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
