package opt

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
	// Sweeps over the blocks, bottom up, until one moves nothing: a pull
	// can open one in a block below it, which libpcap's optimizer takes a
	// round of all its passes to make. The order of the first sweep
	// serves the next ones (pulls keep every block reachable; the edges
	// into blocks are kept up to date; nothing here orders the blocks
	// again).
	order := o.order
	// A pull needs a test of the value the chain's predecessors leave in
	// A besides theirs. (Pulls move edges, not tests.)
	o.countTests()
	// Large programs remember which chains hold no test of a value
	// (noteNoTest); in small ones the walks are short.
	o.noTestStamp++ // the values may have changed since the last round
	o.memoChains = len(o.noTestAt) > 0
	for sweep := 0; sweep < maxPullSweeps; sweep++ {
		o.forgetDominance()
		moved := false
		for j := len(order) - 1; j >= 0; j-- {
			if o.pullHead(order[j]) {
				o.changed, moved = true, true
			}
		}
		if !moved || o.spent() {
			return
		}
	}
}

// countTests counts the tests of each value of A in the blocks of o.order
// (aCount).
func (o *optimizer) countTests() {
	count := resize(o.aCount, len(o.vals.keys))
	clear(count)
	for _, i := range o.order {
		if b := &o.b[i]; b.isCond() && b.val[atomA] != unknown {
			count[b.val[atomA]]++
		}
	}
	o.aCount = count
}

// maxPullSweeps bounds the sweeps of one round of pullups.
const maxPullSweeps = 64

// chainDominated reports whether block head dominates block x, for the
// blocks of a chain that starts at head: every edge into x comes from a
// block head dominates. The answers are remembered until the graph or head
// changes (newDominance).
//
// The search goes up the edges into x depth first, each block's edges in
// their order up to the first from a block head does not dominate, as a
// recursion would (o.stack holds its frames: a block and its next edge).
func (o *optimizer) chainDominated(head, x int32) bool {
	if x == head {
		return true
	}
	if o.domHead != head {
		o.newDominance(head)
	}
	at, is, stamp := o.domAt, o.domIs, o.domStamp
	if at[x] == stamp {
		return is[x] == 1
	}
	o.work++
	at[x], is[x] = stamp, 0 // a cycle cannot be: a guard
	dom := x != o.root && o.predN[x] > 0
	stack := append(o.stack[:0], x, 0)
	for {
		top := len(stack) - 2
		x, k := stack[top], stack[top+1]
		if dom && k < o.predN[x] {
			// On to the next edge into x: dom is its block's answer.
			stack[top+1] = k + 1
			c := o.predArena[o.predOff[x]+k] / 2
			switch {
			case c == head:
				dom = true
			case at[c] == stamp:
				dom = is[c] == 1
			default:
				o.work++
				at[c], is[c] = stamp, 0
				dom = c != o.root && o.predN[c] > 0
				stack = append(stack, c, 0)
			}
			continue
		}
		// x is answered; dom goes to the block whose edge led to it.
		is[x] = 0
		if dom {
			is[x] = 1
		}
		stack = stack[:top]
		if len(stack) == 0 {
			o.stack = stack
			return dom
		}
	}
}

// forgetDominance forgets chainDominated's answers for every head, at the
// start of a sweep (the last one's pulls moved edges). The head goes too:
// with the stamps cleared, answers kept for the last sweep's head would
// read as fresh.
func (o *optimizer) forgetDominance() {
	clear(o.domAt)
	o.domStamp, o.domHead = 0, none
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

// pullHead does the pulls in the two chains that start at block b, the
// one along false edges first, and reports whether it changed the graph.
// (b is reachable: pulls keep every block of the round's order so.)
func (o *optimizer) pullHead(b int32) bool {
	preds, val := o.chainValue(b)
	if val == unknown {
		return false
	}
	pulled := o.pullup(b, preds, val, true)
	if pulled {
		// The pulls moved edges into b: it heads the other chain if it
		// still does what a head must.
		if o.predN[b] == 0 {
			return true
		}
		if preds, val = o.chainValue(b); val == unknown {
			return true
		}
	}
	return o.pullup(b, preds, val, false) || pulled
}

// chainValue returns the edges into block b and the value of A they all
// leave, when b can head a chain with a pull to make: the value is known
// and another block than theirs tests it; unknown otherwise. It makes b
// the head chainDominated answers for.
func (o *optimizer) chainValue(b int32) ([]int32, vnum) {
	preds := o.predsOf(b)
	if len(preds) == 0 {
		return nil, unknown
	}
	val := o.b[preds[0]/2].val[atomA]
	if val == unknown {
		return nil, unknown
	}
	for _, e := range preds[1:] {
		if o.b[e/2].val[atomA] != val {
			return nil, unknown
		}
	}
	if o.domHead != b {
		o.newDominance(b)
	}
	// (distinctTests counts some of preds: more tests than edges need no
	// count.)
	if n := o.aCount[val]; int(n) <= len(preds) && n <= o.distinctTests(b, preds) {
		return nil, unknown // no other test of val to pull
	}
	return preds, val
}

// pullup does one pull in the chain that starts at block b, whose edges
// in, preds, all leave val in A (chainValue): along false edges with a
// common true successor when or is set, along true edges with a common
// false successor otherwise. It reports whether it changed the graph.
//
// The chain is the blocks that test something and whose common slot goes
// where b's does, each one's other edge going to the next, dominated by
// b. A block whose one edge in comes from a block of the chain is
// dominated by b; chainDominated answers for the others.
func (o *optimizer) pullup(b int32, preds []int32, val vnum, or bool) bool {
	// on is the slot that goes on down the chain, common the other.
	on, common := 1, 0
	if !or {
		on, common = 0, 1
	}
	bb := &o.b[b]
	o.work++
	if !bb.isCond() {
		return false // (a chain of no block: nothing to note)
	}
	// b dominates itself; a block whose one edge in comes from a block b
	// dominates is remembered as dominated (chainDominated's answers).
	if o.domAt[b] == o.domStamp {
		if o.domIs[b] != 1 {
			return false
		}
	} else if o.predN[b] == 1 {
		if p := o.predArena[o.predOff[b]] >> 1; o.domAt[p] == o.domStamp && o.domIs[p] == 1 {
			o.domAt[b], o.domIs[b] = o.domStamp, 1
		}
	}
	memo := o.memoChains
	if memo {
		o.freshNoTest()
	}
	if next := bb.succ(on); !o.b[next].chainShape(common, bb.succ(common)) {
		// The chain is b alone: what the walk below would find and note
		// (the search for d or s ends at next), without its set-up.
		i := 2*b + int32(on)
		if bb.val[atomA] == val {
			if memo && o.noTestAt[i] == o.noTestStamp && o.noTestKey[i]&^2 == 4*int32(val)+int32(on) {
				return false // no test of val after another (noteNoTest)
			}
			o.work++
			if memo && (o.noTestAt[i] != o.noTestStamp || o.noTestKey[i] != 4*int32(val)+2*noneAfter+int32(on)) {
				// noteNoTest(b, next, val, on, afterOther), where
				// noneAfter says no less
				o.noTestKey[i], o.noTestAt[i] = 4*int32(val)+2*afterOther+int32(on), o.noTestStamp
			}
			return false
		}
		o.work++
		if memo {
			// noteNoTest(b, next, val, on, noneAfter)
			o.noTestKey[i], o.noTestAt[i] = 4*int32(val)+2*noneAfter+int32(on), o.noTestStamp
		}
		return false
	}
	return o.pullChain(b, preds, val, on)
}

// pullChain is pullup in a chain of more than one block, b's test and
// dominance checked.
func (o *optimizer) pullChain(b int32, preds []int32, val vnum, on int) bool {
	common := 1 - on
	blocks, predN := o.b, o.predN
	at, is, stamp := o.domAt, o.domIs, o.domStamp // chainDominated's, for b
	target := blocks[b].succ(common)
	// What noteNoTest recorded of the blocks, read in place: the key of
	// val along on (noneAfter, or either kind with the kind bit masked).
	memo := o.memoChains
	noKey, noAt, nstamp := o.noTestKey, o.noTestAt, o.noTestStamp
	key := 4*int32(val) + int32(on)
	// d: the first block of the chain that tests another value; prev the
	// block before it (-1: d is b).
	d, prev := b, int32(-1)
	db := &blocks[b]
	for db.val[atomA] == val {
		if i := 2*d + int32(on); memo && noAt[i] == nstamp && noKey[i]&^2 == key {
			return false // no test of val after another (noteNoTest)
		}
		prev, d = d, db.succ(on)
		db = &blocks[d]
		o.work++
		if !db.chainShape(common, target) {
			if memo {
				o.noteNoTest(b, d, val, on, afterOther)
			}
			return false
		}
		if at[d] != stamp && predN[d] == 1 {
			at[d], is[d] = stamp, 1
		} else if !o.chainHolds(b, d) {
			return false
		}
	}
	// Pull up, one after the other, the blocks after d that test val
	// again: what rounds of single pulls would do, in one walk down the
	// chain (the blocks between d and the next one keep being passed).
	pulled := false
	sprev, s := d, db.succ(on)
	dReads := db.inUse != 0 // pullable has to check what d reads
	for {
		from := s // the first block of this search
		if memo {
			o.freshNoTest()
		}
		nstamp = o.noTestStamp
		for {
			sb := &blocks[s]
			o.work++
			if !sb.chainShape(common, target) {
				if memo {
					if !pulled {
						o.noteNoTest(b, d, val, on, afterOther)
						from = d
					}
					o.noteNoTest(from, s, val, on, noneAfter)
				}
				return pulled
			}
			if at[s] != stamp && predN[s] == 1 {
				at[s], is[s] = stamp, 1
			} else if !o.chainHolds(b, s) {
				return pulled
			}
			if sb.val[atomA] == val {
				break
			}
			if i := 2*s + int32(on); memo && noAt[i] == nstamp && noKey[i] == key {
				return pulled // no test of val below (noteNoTest)
			}
			sprev, s = s, sb.succ(on)
		}
		if !o.pullable(prev, preds, d, sprev, s) {
			return pulled
		}
		// The blocks after s that test val too, each the one successor
		// of the one before, go with it: the edges pulls of each in turn
		// would move end where the pull of the run puts them (a test of
		// a block after the run comes after the moves, as it would).
		last, stop, resume := s, false, int32(-1)
		for {
			c := blocks[last].succ(on)
			if predN[c] != 1 {
				break
			}
			cb := &blocks[c]
			o.work++
			if !cb.chainShape(common, target) {
				stop = true
				break
			}
			if at[c] != stamp {
				at[c], is[c] = stamp, 1
			} else if is[c] != 1 {
				stop = true
				break
			}
			if cb.val[atomA] != val {
				resume = c
				break
			}
			if (cb.inUse != 0 || dReads) && !o.pullable(last, preds, d, sprev, c) {
				stop = true // (blocks that read nothing from before move)
				break
			}
			last = c
		}
		next := blocks[last].succ(on)
		o.moveEdge(sprev, on, next)
		o.moveEdge(last, on, d)
		if prev < 0 {
			for _, e := range append(o.pull2[:0], preds...) {
				o.moveEdge(e/2, int(e%2), s)
			}
		} else {
			o.moveEdge(prev, on, s)
		}
		pulled = true
		if stop {
			return true
		}
		prev, s = last, next
		if resume >= 0 {
			// In the chain, testing another value: the search goes on
			// after it.
			sprev, s = resume, blocks[resume].succ(on)
		}
	}
}

// chainShape reports whether b has the shape of a block of a chain whose
// common slot goes to target: a test, its common slot going there.
func (b *block) chainShape(common int, target int32) bool {
	return b.isCond() && b.succ(common) == target
}

// chainHolds reports whether head dominates block x, of a chain's shape
// after it, whose answer chainDominated remembers or which has more than
// one edge in.
func (o *optimizer) chainHolds(head, x int32) bool {
	if o.domAt[x] == o.domStamp {
		return o.domIs[x] == 1
	}
	return o.chainDominated(head, x)
}

// What noteNoTest records of the chain after a block (along the slot
// that goes on down the chain, the other edge of each block going where
// the block's does, up to the first block that is not such a test):
const (
	noneAfter  = 0 // no block tests the value
	afterOther = 1 // no test of the value follows a test of another
)

// noteNoTest records kind for the blocks from from on down the chain
// (along slot on) to end, which ends the chain by its shape (not a test,
// or its other edge goes elsewhere): the chain after each of them either
// holds no test of val (noneAfter) or no test of val after a test of
// another value (afterOther). end must follow from along slot on.
//
// The record of block x is noTestKey[2*x+on] = 4*val + 2*kind + on, valid
// while noTestAt[2*x+on] == noTestStamp (freshNoTest). pullup reads them:
// a search for a test of val from x (noneAfter) finds none, for the chain
// of any head (dominated by the head) is a part of the chain recorded;
// and a pull of a test of val to before another from x (either kind)
// fails.
func (o *optimizer) noteNoTest(from, end int32, val vnum, on int, kind int32) {
	o.freshNoTest()
	key := 4*int32(val) + 2*kind + int32(on)
	for x := from; x != end; x = o.b[x].succ(on) {
		i := 2*x + int32(on)
		if kind == afterOther && o.noTestAt[i] == o.noTestStamp && o.noTestKey[i] == key-2 {
			continue // noneAfter says more
		}
		o.noTestKey[i], o.noTestAt[i] = key, o.noTestStamp
	}
}

// freshNoTest forgets noteNoTest's records when the graph changed since
// they were made.
func (o *optimizer) freshNoTest() {
	if o.noTestShape != o.shape {
		o.noTestShape = o.shape
		o.noTestStamp++
	}
}

// distinctTests counts the tests among the blocks of the edges preds
// into block b (a block whose two edges go to b counts once).
func (o *optimizer) distinctTests(b int32, preds []int32) int32 {
	n := int32(0)
	for _, e := range preds {
		if pb := &o.b[e/2]; pb.isCond() && (e%2 == 0 || pb.jt != b) {
			n++
		}
	}
	return n
}

// pullable reports whether block s, which tests the value the blocks
// before d leave in A, can move up before d: what s and d read must not
// change (blocks as the code generator makes them load what they test
// and read nothing from before). prev is the block before d (-1: d is the
// head
// and preds are the edges into it), sprev the block before s.
func (o *optimizer) pullable(prev int32, preds []int32, d, sprev, s int32) bool {
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
	return true
}
