package opt

import "slices"

// factSet is a set of facts keyed by value number, never changed once
// made: adding a fact makes a new set.
//
// A small set is a slice sorted by key, copied whole on change: cheapest
// for the few facts most programs know. A set of more than smallFacts
// is a treap that shares all but O(log n) nodes with the set it was made
// from, so the states of a long chain of blocks, each knowing one fact more
// than the one before, take linear memory and time, not quadratic. The
// treap's priorities are a hash of the keys: a set of keys has one shape
// whatever order its facts came in (two sets with the same facts compare
// equal node by node), and the shape is balanced in expectation.
type factSet struct {
	small []fact // n <= smallFacts
	root  *factNode
	n     int
}

// smallFacts is the largest set kept as a slice.
const smallFacts = 24

type factNode struct {
	f           fact
	prio        uint32
	left, right *factNode
}

// factPrio is a bijection of the value numbers, so priorities differ.
func factPrio(vn vnum) uint32 { return uint32(vn) * 0x9e3779b1 }

// len returns the number of facts in the set.
func (fs factSet) len() int { return fs.n }

// get returns the fact about vn, or nil. The fact is shared: read only.
func (fs factSet) get(vn vnum) *fact {
	if fs.n <= smallFacts {
		if i, ok := fs.search(vn); ok {
			return &fs.small[i]
		}
		return nil
	}
	for n := fs.root; n != nil; {
		switch {
		case vn < n.f.vn:
			n = n.left
		case vn > n.f.vn:
			n = n.right
		default:
			return &n.f
		}
	}
	return nil
}

// with returns fs plus the outcome of a conditional jump on vn.
func (fs factSet) with(t *values, vn vnum, op uint16, k uint32, result bool) factSet {
	if fs.n <= smallFacts {
		at, found := fs.search(vn)
		if found {
			out := slices.Clone(fs.small)
			out[at].assume(op, k, result)
			return factSet{small: out, n: fs.n}
		}
		f := fact{vn: vn, hi: 0xffffffff}
		f.assume(op, k, result)
		out := make([]fact, fs.n+1)
		copy(out, fs.small[:at])
		out[at] = f
		copy(out[at+1:], fs.small[at:])
		if fs.n+1 <= smallFacts {
			return factSet{small: out, n: fs.n + 1}
		}
		return factSetFromSorted(out)
	}
	if f := fs.get(vn); f != nil {
		nf := *f
		nf.assume(op, k, result)
		return factSet{root: replaceFact(fs.root, &nf), n: fs.n}
	}
	f := fact{vn: vn, hi: 0xffffffff}
	f.assume(op, k, result)
	return factSet{root: insertFact(fs.root, &f, factPrio(vn)), n: fs.n + 1}
}

// owned returns fs with a small set's slice copied to buf, which the
// caller owns: withOwned may then change it in place.
func (fs factSet) owned(buf []fact) factSet {
	if fs.n <= smallFacts {
		fs.small = append(buf[:0], fs.small...)
	}
	return fs
}

// withOwned is with for a set made by owned: a small set changes in place.
func (fs factSet) withOwned(t *values, vn vnum, op uint16, k uint32, result bool) factSet {
	if fs.n <= smallFacts {
		at, found := fs.search(vn)
		if found {
			fs.small[at].assume(op, k, result)
			return fs
		}
		if fs.n+1 <= smallFacts {
			f := fact{vn: vn, hi: 0xffffffff}
			f.assume(op, k, result)
			fs.small = slices.Insert(fs.small, at, f)
			fs.n++
			return fs
		}
	}
	return fs.with(t, vn, op, k, result)
}

// scratch returns the memory of an owned small set for reuse, or nil.
func (fs factSet) scratch() []fact {
	if fs.n <= smallFacts {
		return fs.small[:0]
	}
	return nil
}

// search finds vn in a small set.
func (fs factSet) search(vn vnum) (int, bool) {
	return slices.BinarySearchFunc(fs.small, vn, func(f fact, v vnum) int { return int(f.vn - v) })
}

// replaceFact returns the tree n with the fact of f's key replaced.
func replaceFact(n *factNode, f *fact) *factNode {
	c := *n
	switch {
	case f.vn < n.f.vn:
		c.left = replaceFact(n.left, f)
	case f.vn > n.f.vn:
		c.right = replaceFact(n.right, f)
	default:
		c.f = *f
	}
	return &c
}

// insertFact returns the tree n plus f, whose key n does not hold.
func insertFact(n *factNode, f *fact, prio uint32) *factNode {
	if n == nil {
		return &factNode{f: *f, prio: prio}
	}
	if prio > n.prio {
		l, r := splitFacts(n, f.vn)
		return &factNode{f: *f, prio: prio, left: l, right: r}
	}
	c := *n
	if f.vn < n.f.vn {
		c.left = insertFact(n.left, f, prio)
	} else {
		c.right = insertFact(n.right, f, prio)
	}
	return &c
}

// splitFacts splits the tree n, which does not hold vn, into the trees
// of the keys below vn and above it.
func splitFacts(n *factNode, vn vnum) (below, above *factNode) {
	if n == nil {
		return nil, nil
	}
	c := *n
	if n.f.vn < vn {
		c.right, above = splitFacts(n.right, vn)
		return &c, above
	}
	below, c.left = splitFacts(n.left, vn)
	return below, &c
}

// appendTo appends the facts of fs to buf in key order.
func (fs factSet) appendTo(buf []fact) []fact {
	if fs.n <= smallFacts {
		return append(buf, fs.small...)
	}
	var walk func(n *factNode)
	walk = func(n *factNode) {
		if n != nil {
			walk(n.left)
			buf = append(buf, n.f)
			walk(n.right)
		}
	}
	walk(fs.root)
	return buf
}

// factSetFromSorted builds the set of facts sorted by key (a large one
// as a Cartesian tree on the priorities, built with a stack).
func factSetFromSorted(sorted []fact) factSet {
	if len(sorted) <= smallFacts {
		if len(sorted) == 0 {
			return factSet{}
		}
		return factSet{small: slices.Clone(sorted), n: len(sorted)}
	}
	nodes := make([]factNode, len(sorted))
	var stack []*factNode
	for i := range sorted {
		nd := &nodes[i]
		nd.f, nd.prio = sorted[i], factPrio(sorted[i].vn)
		var last *factNode
		for len(stack) > 0 && stack[len(stack)-1].prio < nd.prio {
			last = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		nd.left = last
		if len(stack) > 0 {
			stack[len(stack)-1].right = nd
		}
		stack = append(stack, nd)
	}
	return factSet{root: stack[0], n: len(sorted)}
}

// sameFacts reports whether two sets hold the same facts.
func sameFacts(a, b factSet) bool {
	if a.n != b.n {
		return false
	}
	if a.n <= smallFacts {
		for i := range a.small {
			if !a.small[i].same(&b.small[i]) {
				return false
			}
		}
		return true
	}
	return sameFactNodes(a.root, b.root)
}

func sameFactNodes(a, b *factNode) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return a.f.same(&b.f) && sameFactNodes(a.left, b.left) && sameFactNodes(a.right, b.right)
}
