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
	o.findFacts()
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
	pre := o.b[p].pre
	best, bestPre := int32(-1), int32(-1)
	for j := o.factTab[hashVal(a)&uint64(len(o.factTab)-1)]; j >= 0; j = o.facts[j].next {
		f := &o.facts[j]
		o.work++
		if f.a != a || f.op != cb.op {
			continue
		}
		var t int32
		switch {
		case f.oval == cb.oval && f.slot == 0:
			t = cb.jt
		case f.oval == cb.oval || f.slot == 0 && cb.op == cbpf.JMP|cbpf.JEQ|cbpf.K:
			t = cb.jf
		default:
			continue
		}
		if vb := &o.b[f.v]; vb.pre <= pre && pre <= vb.end && vb.pre > bestPre {
			best, bestPre = t, vb.pre
		}
	}
	return best
}

// hashVal mixes a value number for the table of facts.
func hashVal(a vnum) uint64 {
	h := uint64(a) * 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// factEntry is what an edge tells: the outcome (slot 0 true, 1 false) of
// its block's test op of the value a with operand oval; v is the block the
// edge goes into, its only edge in.
type factEntry struct {
	a, oval vnum
	op      uint16
	slot    uint16
	v       int32
	next    int32 // the next entry of the same slot of the table, -1 at the end
}

// findFacts numbers the dominator tree (so that ancestry is a comparison)
// and indexes the edges that can decide a test: the one edge into each
// block that has one edge in, out of a test of a known value.
func (o *optimizer) findFacts() {
	n := len(o.b)
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
	stack := append(o.stack[:0], o.root)
	o.b[o.root].pre = num
	num++
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		if fill[i] < cnt[i+1] {
			c := kids[fill[i]]
			fill[i]++
			o.b[c].pre = num
			num++
			stack = append(stack, c)
			continue
		}
		stack = stack[:len(stack)-1]
		o.b[i].end = num - 1
	}
	o.count, o.kids, o.iter, o.stack = cnt, kids, fill, stack

	// The table of facts, by the value tested.
	o.facts = o.facts[:0]
	size := 16
	for size < 2*len(o.order) {
		size *= 2
	}
	o.factTab = resize(o.factTab, size)
	for i := range o.factTab {
		o.factTab[i] = -1
	}
	for _, v := range o.order {
		vb := &o.b[v]
		if v == o.root || vb.isLeaf() || o.predN[v] != 1 {
			continue
		}
		e := o.predsOf(v)[0]
		u := &o.b[e/2]
		if !u.isCond() || u.val[atomA] == unknown || u.oval == unknown {
			continue
		}
		h := hashVal(u.val[atomA]) & uint64(size-1)
		o.facts = append(o.facts, factEntry{a: u.val[atomA], oval: u.oval, op: u.op, slot: uint16(e % 2), v: v, next: o.factTab[h]})
		o.factTab[h] = int32(len(o.facts) - 1)
	}
	o.work += len(o.order)
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

// pullups regroups chains of tests, bottom up: in a chain of blocks that
// go to one place when their test holds and on down the chain when it
// does not ("a or b or c"), a test of the value the blocks before the
// chain leave in A is moved up before the first test of another value;
// likewise for chains that go to one place when their test fails ("a and
// b and c"). "p == 1 or q == 1 or p == 2" becomes "p == 1 or p == 2 or q
// == 1": on a packet cut between p and q the moved test now runs, where it
// ran after a load of q that fails (libpcap's optimizer does the same).
func (o *optimizer) pullups() {
	if o.shape != o.ordered {
		o.levelOrder()
		o.findPreds()
		o.ordered = o.shape
	}
	order := append(o.pull[:0], o.order...)
	clear(o.domAt)
	o.domStamp = 0
	for j := len(order) - 1; j >= 0; j-- {
		b := order[j]
		for _, or := range [2]bool{true, false} {
			if o.b[b].rpo < 0 || o.predN[b] == 0 {
				break
			}
			if o.pullup(b, or) {
				o.changed = true
			}
		}
	}
	o.pull = order
}

// chainDominated reports whether block head dominates block x, for the
// blocks of a chain that starts at head: every edge into x comes from a
// block head dominates. The answers are remembered until the graph or head
// changes (newDominance).
func (o *optimizer) chainDominated(head, x int32) bool {
	if x == head {
		return true
	}
	if o.domHead != head {
		o.newDominance(head)
	}
	if o.domAt[x] == o.domStamp {
		return o.domIs[x] == 1
	}
	o.work++
	o.domAt[x], o.domIs[x] = o.domStamp, 0 // a cycle cannot be: a guard
	is := x != o.root && o.predN[x] > 0
	for _, e := range o.predsOf(x) {
		if !is {
			break
		}
		is = o.chainDominated(head, e/2)
	}
	o.domIs[x] = 0
	if is {
		o.domIs[x] = 1
	}
	return is
}

// newDominance forgets chainDominated's answers.
func (o *optimizer) newDominance(head int32) {
	o.domStamp++
	o.domHead = head
}

// moveEdge sends the edge leaving block p by slot to block t, keeping the
// lists of edges into blocks up to date.
func (o *optimizer) moveEdge(p int32, slot int, t int32) {
	pb := &o.b[p]
	e := 2*p + int32(slot)
	o.removePred(pb.succ(slot), e)
	o.addPred(t, e)
	pb.setSucc(slot, t)
	o.shape++
}

// pullup does one pull in the chain that starts at block b: along false
// edges with a common true successor when or is set, along true edges with
// a common false successor otherwise. It reports whether it changed the
// graph.
func (o *optimizer) pullup(b int32, or bool) bool {
	preds := o.predsOf(b)
	if len(preds) == 0 {
		return false
	}
	val := o.b[preds[0]/2].val[atomA]
	if val == unknown {
		return false
	}
	for _, e := range preds[1:] {
		if o.b[e/2].val[atomA] != val {
			return false
		}
	}
	// on is the slot that goes on down the chain, common the other.
	on, common := 1, 0
	if !or {
		on, common = 0, 1
	}
	target := o.b[b].succ(common)
	inChain := func(i int32) bool {
		ib := &o.b[i]
		o.work++
		return ib.isCond() && ib.succ(common) == target && o.chainDominated(b, i)
	}
	// d: the first block of the chain that tests another value; prev the
	// block before it (-1: d is b).
	d, prev := b, int32(-1)
	for {
		if !inChain(d) {
			return false
		}
		if o.b[d].val[atomA] != val {
			break
		}
		prev, d = d, o.b[d].succ(on)
	}
	// s: the first block after d that tests val again; sprev before it.
	sprev, s := d, o.b[d].succ(on)
	for {
		if !inChain(s) {
			return false
		}
		if o.b[s].val[atomA] == val {
			break
		}
		sprev, s = s, o.b[s].succ(on)
	}
	// What s and d read must not change: blocks as the code generator
	// makes them load what they test and read nothing from before.
	before := func(a int) vnum {
		if prev >= 0 {
			return o.b[prev].val[a]
		}
		v := o.b[preds[0]/2].val[a]
		for _, e := range preds[1:] {
			if o.b[e/2].val[a] != v {
				return unknown
			}
		}
		return v
	}
	for use := o.b[s].inUse; use != 0; {
		a := trailingZeros(use)
		use &^= 1 << a
		if v := before(a); v == unknown || v != o.b[sprev].val[a] {
			return false
		}
	}
	for use := o.b[d].inUse; use != 0; {
		a := trailingZeros(use)
		use &^= 1 << a
		if v := before(a); v == unknown || v != o.b[s].val[a] {
			return false
		}
	}
	o.moveEdge(sprev, on, o.b[s].succ(on))
	o.moveEdge(s, on, d)
	if prev < 0 {
		for _, e := range append(o.pull2[:0], preds...) {
			o.moveEdge(e/2, int(e%2), s)
		}
	} else {
		o.moveEdge(prev, on, s)
	}
	o.newDominance(-1)
	return true
}
