package bpfcompile

import "slices"

// optFacts is a set of facts keyed by value number, never changed once
// made: adding a fact makes a new set.
//
// A small set is a slice sorted by key, copied whole on change: cheapest
// for the few facts most programs know. A set of more than optSmallFacts
// is a treap that shares all but O(log n) nodes with the set it was made
// from, so the states of a long chain of blocks, each knowing one fact more
// than the one before, take linear memory and time, not quadratic. The
// treap's priorities are a hash of the keys: a set of keys has one shape
// whatever order its facts came in (two sets with the same facts compare
// equal node by node), and the shape is balanced in expectation.
type optFacts struct {
	small []optFact // n <= optSmallFacts
	root  *optFactNode
	n     int
}

// optSmallFacts is the largest set kept as a slice.
const optSmallFacts = 24

type optFactNode struct {
	f           optFact
	prio        uint32
	left, right *optFactNode
}

// optFactPrio is a bijection of the value numbers, so priorities differ.
func optFactPrio(vn optVN) uint32 { return uint32(vn) * 0x9e3779b1 }

// len returns the number of facts in the set.
func (fs optFacts) len() int { return fs.n }

// get returns the fact about vn, or nil. The fact is shared: read only.
func (fs optFacts) get(vn optVN) *optFact {
	if fs.n <= optSmallFacts {
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
func (fs optFacts) with(t *optValues, vn optVN, op uint16, k uint32, result bool) optFacts {
	if fs.n <= optSmallFacts {
		at, found := fs.search(vn)
		if found {
			out := slices.Clone(fs.small)
			out[at].assume(op, k, result)
			return optFacts{small: out, n: fs.n}
		}
		f := optFact{vn: vn, hi: 0xffffffff}
		f.assume(op, k, result)
		out := make([]optFact, fs.n+1)
		copy(out, fs.small[:at])
		out[at] = f
		copy(out[at+1:], fs.small[at:])
		if fs.n+1 <= optSmallFacts {
			return optFacts{small: out, n: fs.n + 1}
		}
		return optFactsFromSorted(out)
	}
	if f := fs.get(vn); f != nil {
		nf := *f
		nf.assume(op, k, result)
		return optFacts{root: optFactReplace(fs.root, &nf), n: fs.n}
	}
	f := optFact{vn: vn, hi: 0xffffffff}
	f.assume(op, k, result)
	return optFacts{root: optFactInsert(fs.root, &f, optFactPrio(vn)), n: fs.n + 1}
}

// owned returns fs with a small set's slice copied to buf, which the
// caller owns: withOwned may then change it in place.
func (fs optFacts) owned(buf []optFact) optFacts {
	if fs.n <= optSmallFacts {
		fs.small = append(buf[:0], fs.small...)
	}
	return fs
}

// withOwned is with for a set made by owned: a small set changes in place.
func (fs optFacts) withOwned(t *optValues, vn optVN, op uint16, k uint32, result bool) optFacts {
	if fs.n <= optSmallFacts {
		at, found := fs.search(vn)
		if found {
			fs.small[at].assume(op, k, result)
			return fs
		}
		if fs.n+1 <= optSmallFacts {
			f := optFact{vn: vn, hi: 0xffffffff}
			f.assume(op, k, result)
			fs.small = slices.Insert(fs.small, at, f)
			fs.n++
			return fs
		}
	}
	return fs.with(t, vn, op, k, result)
}

// scratch returns the memory of an owned small set for reuse, or nil.
func (fs optFacts) scratch() []optFact {
	if fs.n <= optSmallFacts {
		return fs.small[:0]
	}
	return nil
}

// search finds vn in a small set.
func (fs optFacts) search(vn optVN) (int, bool) {
	return slices.BinarySearchFunc(fs.small, vn, func(f optFact, v optVN) int { return int(f.vn - v) })
}

// optFactReplace returns the tree n with the fact of f's key replaced.
func optFactReplace(n *optFactNode, f *optFact) *optFactNode {
	c := *n
	switch {
	case f.vn < n.f.vn:
		c.left = optFactReplace(n.left, f)
	case f.vn > n.f.vn:
		c.right = optFactReplace(n.right, f)
	default:
		c.f = *f
	}
	return &c
}

// optFactInsert returns the tree n plus f, whose key n does not hold.
func optFactInsert(n *optFactNode, f *optFact, prio uint32) *optFactNode {
	if n == nil {
		return &optFactNode{f: *f, prio: prio}
	}
	if prio > n.prio {
		l, r := optFactSplit(n, f.vn)
		return &optFactNode{f: *f, prio: prio, left: l, right: r}
	}
	c := *n
	if f.vn < n.f.vn {
		c.left = optFactInsert(n.left, f, prio)
	} else {
		c.right = optFactInsert(n.right, f, prio)
	}
	return &c
}

// optFactSplit splits the tree n, which does not hold vn, into the trees
// of the keys below vn and above it.
func optFactSplit(n *optFactNode, vn optVN) (below, above *optFactNode) {
	if n == nil {
		return nil, nil
	}
	c := *n
	if n.f.vn < vn {
		c.right, above = optFactSplit(n.right, vn)
		return &c, above
	}
	below, c.left = optFactSplit(n.left, vn)
	return below, &c
}

// appendTo appends the facts of fs to buf in key order.
func (fs optFacts) appendTo(buf []optFact) []optFact {
	if fs.n <= optSmallFacts {
		return append(buf, fs.small...)
	}
	var walk func(n *optFactNode)
	walk = func(n *optFactNode) {
		if n != nil {
			walk(n.left)
			buf = append(buf, n.f)
			walk(n.right)
		}
	}
	walk(fs.root)
	return buf
}

// optFactsFromSorted builds the set of facts sorted by key (a large one
// as a Cartesian tree on the priorities, built with a stack).
func optFactsFromSorted(sorted []optFact) optFacts {
	if len(sorted) <= optSmallFacts {
		if len(sorted) == 0 {
			return optFacts{}
		}
		return optFacts{small: slices.Clone(sorted), n: len(sorted)}
	}
	nodes := make([]optFactNode, len(sorted))
	var stack []*optFactNode
	for i := range sorted {
		nd := &nodes[i]
		nd.f, nd.prio = sorted[i], optFactPrio(sorted[i].vn)
		var last *optFactNode
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
	return optFacts{root: stack[0], n: len(sorted)}
}

// optSameFacts reports whether two sets hold the same facts.
func optSameFacts(a, b optFacts) bool {
	if a.n != b.n {
		return false
	}
	if a.n <= optSmallFacts {
		for i := range a.small {
			if !a.small[i].same(&b.small[i]) {
				return false
			}
		}
		return true
	}
	return optSameFactNodes(a.root, b.root)
}

func optSameFactNodes(a, b *optFactNode) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return a.f.same(&b.f) && optSameFactNodes(a.left, b.left) && optSameFactNodes(a.right, b.right)
}
