package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// stmt is one straight-line instruction of a block. Statements that jump
// (only protochain's header walk has them) name their targets as offsets
// relative to the next statement of the same block.
type stmt struct {
	code   uint16
	k      uint32
	jt, jf uint8
}

// meaning records whether a block is a known constant, which lets and/or
// drop the other operand as libpcap does.
type meaning uint8

const (
	uncertain meaning = iota
	isTrue
	isFalse
)

// block is a basic block: statements, then a conditional jump (or a
// return) whose targets are other blocks.
type block struct {
	stmts  []stmt
	jt, jf *block
	k      uint32
	code   uint16 // the final jump or return

	// layout state (small: the code generator makes many blocks)
	mark           bool
	longjt, longjf uint8 // 1: the branch goes through a ja after the block
	offset         int32

	// The true and false edges as exits of a fragment under construction.
	tExit, fExit exit
}

// exit is an unresolved branch of block b: its true edge when the exit is
// b.tExit, its false edge when it is b.fExit. Exits form singly linked
// lists that and/or join in constant time.
type exit struct {
	b    *block
	next *exit
}

func (e *exit) set(t *block) {
	if e == &e.b.tExit {
		e.b.jt = t
	} else {
		e.b.jf = t
	}
}

// exits is a list of exits. Joining two lists links them, so a list
// belongs to one fragment at a time: each fragment is combined once.
type exits struct{ head, tail *exit }

// join returns the list of x's exits followed by y's, reusing both.
func join(x, y exits) exits {
	switch {
	case x.head == nil:
		return y
	case y.head == nil:
		return x
	}
	x.tail.next = y.head
	return exits{x.head, y.tail}
}

// setAll points every exit of l at t.
func (l exits) setAll(t *block) {
	for e := l.head; e != nil; e = e.next {
		e.set(t)
	}
}

// frag is a condition under construction: an entry block and the edges
// that leave it when the condition holds (t) and when it does not (f).
type frag struct {
	head *block
	t, f exits
	m    meaning
	free *frag // the next on the free list (newFrag)
}

// jmpFrag makes a fragment of one block that runs stmts and jumps on
// "A <code> k". The block keeps stmts.
func (g *gen) jmpFrag(code uint16, k uint32, stmts []stmt) *frag {
	a := g.newJump()
	a.b.stmts, a.b.code, a.b.k = stmts, code, k
	return g.frag(a)
}

// jmpFragCopy is jmpFrag for statements the caller reuses (a buffer on
// its stack): the block gets a copy, in its own room when they fit.
func (g *gen) jmpFragCopy(code uint16, k uint32, stmts []stmt) *frag {
	a := g.newJump()
	var s []stmt
	if len(stmts) <= len(a.room) {
		s = a.room[:len(stmts):len(stmts)]
		copy(s, stmts)
	} else {
		s = append([]stmt(nil), stmts...)
	}
	a.b.stmts, a.b.code, a.b.k = s, code, k
	return g.frag(a)
}

// jump is the memory of a block the code generator makes for a
// comparison: the block (with its exits) and room for the statements most
// blocks have (a load and a mask, or two loads).
type jump struct {
	b    block
	room [2]stmt
}

// frag makes the fragment of a's block (a zeroed jump but for the block's
// statements and test). Fields are set one by one, not as struct values:
// copying a struct with pointers while the collector marks costs a write
// barrier for every pointer of the struct, nil or not.
func (g *gen) frag(a *jump) *frag {
	b := &a.b
	b.tExit.b, b.fExit.b = b, b
	f := g.newFrag()
	f.head, f.m, f.free = b, uncertain, nil
	f.t.head, f.t.tail = &b.tExit, &b.tExit
	f.f.head, f.f.tail = &b.fExit, &b.fExit
	return f
}

// newFrag returns a fragment of the free list or of a slab, for frag to
// set every field of: and and or use one of their two up, so few are in
// use at once.
func (g *gen) newFrag() *frag {
	if f := g.freeFrags; f != nil {
		g.freeFrags = f.free
		return f
	}
	if len(g.frags) == cap(g.frags) {
		g.frags = make([]frag, 0, 4)
	}
	g.frags = g.frags[:len(g.frags)+1]
	return &g.frags[len(g.frags)-1]
}

// freeFrag puts a fragment that is used up on the free list.
func (g *gen) freeFrag(f *frag) {
	f.free = g.freeFrags
	g.freeFrags = f
}

// newJump returns a zeroed jump from the generator's slab: the code
// generator makes one per comparison, and one allocation for many saves
// the collector their count. A full slab is left to the blocks that
// point into it.
func (g *gen) newJump() *jump {
	if len(g.jumps) == cap(g.jumps) {
		// A primitive makes 1 to 12 blocks (a port 11); small slabs
		// waste little of the memory a short filter takes.
		g.jumps = make([]jump, 0, min(4+g.blocks, 8))
	}
	g.blocks++
	g.jumps = g.jumps[:len(g.jumps)+1]
	return &g.jumps[len(g.jumps)-1]
}

// and joins two conditions: b runs only when a holds. a and b are used
// up (the result is one of them).
func (g *gen) and(a, b *frag) *frag {
	switch {
	case a.m == isFalse:
		g.freeFrag(b)
		return a
	case b.m == isFalse:
		g.freeFrag(a)
		return b
	case a.m == isTrue:
		g.freeFrag(a)
		return b
	case b.m == isTrue:
		g.freeFrag(b)
		return a
	}
	a.t.setAll(b.head)
	a.t, a.f = b.t, join(b.f, a.f)
	g.freeFrag(b)
	return a
}

// or joins two conditions: b runs only when a does not hold. a and b are
// used up (the result is one of them).
func (g *gen) or(a, b *frag) *frag {
	switch {
	case a.m == isFalse:
		g.freeFrag(a)
		return b
	case b.m == isFalse:
		g.freeFrag(b)
		return a
	case a.m == isTrue:
		g.freeFrag(b)
		return a
	case b.m == isTrue:
		g.freeFrag(a)
		return b
	}
	a.f.setAll(b.head)
	a.t, a.f = join(b.t, a.t), b.f
	g.freeFrag(b)
	return a
}

// not negates a condition, a itself.
func (g *gen) not(a *frag) *frag {
	switch a.m {
	case isTrue:
		a.m = isFalse
	case isFalse:
		a.m = isTrue
	}
	a.t, a.f = a.f, a.t
	return a
}

// finish attaches the returns: snaplen when the condition holds, 0 when
// it does not. It returns the root block.
func (g *gen) finish(a *frag, snaplen uint32) *block {
	accept, reject := &g.rets[0], &g.rets[1]
	*accept = block{code: cbpf.RET | cbpf.K, k: snaplen}
	*reject = block{code: cbpf.RET | cbpf.K, k: 0}
	a.t.setAll(accept)
	a.f.setAll(reject)
	return a.head
}

// errLayout is wrapped by layout errors (a jump inside a block that does
// not fit).
var errLayout = errors.New("bpf layout")

// layout linearizes the block graph: each block is placed before the
// blocks it jumps to, the false successor's subgraph last (the order of
// libpcap's unoptimized output). A conditional jump farther than 255
// instructions goes through an extra "ja" placed after it.
//
// The order of the blocks does not depend on the extra jumps, so it is
// computed once. Extra jumps only lengthen other jumps, so the set of
// jumps that need one is found by passes that each mark every jump too
// far with the extras found so far, until a pass finds none: the least
// such set, which a layout that adds one extra at a time and starts over
// finds as well. Each pass is linear; a few passes are the rule.
func layout(root *block) ([]bpf.RawInstruction, error) {
	order := placeOrder(root)
	for pass := 0; ; pass++ {
		if pass > maxLayoutPasses {
			return nil, fmt.Errorf("%w: no stable layout after %d passes", errLayout, pass)
		}
		n := assignOffsets(order)
		grew := false
		for _, b := range order {
			if b.jt == nil {
				continue
			}
			at := int(b.offset) + len(b.stmts)
			if b.longjt == 0 && int(b.jt.offset)-at-1 >= 256 {
				b.longjt, grew = 1, true
			}
			if b.longjf == 0 && int(b.jf.offset)-at-1 >= 256 {
				b.longjf, grew = 1, true
			}
		}
		if !grew {
			return emit(order, n), nil
		}
	}
}

// maxLayoutPasses bounds layout's passes; each pass but the last adds at
// least one extra jump, and a program the guards let through has far
// fewer blocks than this.
const maxLayoutPasses = 1 << 16

// placeOrder returns the blocks reachable from root in the reverse of
// their final order: for each block, its false successor's subgraph, then
// its true successor's, then the block itself (a block reached again is
// not placed again).
func placeOrder(root *block) []*block {
	var order []*block
	var visit func(b *block)
	visit = func(b *block) {
		if b == nil || b.mark {
			return
		}
		b.mark = true
		visit(b.jf)
		visit(b.jt)
		order = append(order, b)
	}
	visit(root)
	unmark(root)
	return order
}

// assignOffsets sets the offset of every block of order (placed from the
// end of the program backwards) and returns the program's length.
func assignOffsets(order []*block) int {
	n := 0
	for _, b := range order {
		n += len(b.stmts) + 1 + int(b.longjt) + int(b.longjf)
	}
	tail := n
	for _, b := range order {
		tail -= len(b.stmts) + 1 + int(b.longjt) + int(b.longjf)
		b.offset = int32(tail)
	}
	return n
}

// emit writes the instructions of the laid-out blocks: statements, the
// final jump or return, and the extra jumps after it.
func emit(order []*block, n int) []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, n)
	for _, b := range order {
		for i, s := range b.stmts {
			out[int(b.offset)+i] = bpf.RawInstruction{Op: s.code, Jt: s.jt, Jf: s.jf, K: s.k}
		}
		at := int(b.offset) + len(b.stmts)
		ins := bpf.RawInstruction{Op: b.code, K: b.k}
		if b.jt != nil {
			extra := 0
			off := int(b.jt.offset) - at - 1
			if b.longjt != 0 {
				ins.Jt = uint8(extra)
				extra++
				out[at+extra] = bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(off - extra)}
			} else {
				ins.Jt = uint8(off)
			}
			off = int(b.jf.offset) - at - 1
			if b.longjf != 0 {
				ins.Jf = uint8(extra)
				extra++
				out[at+extra] = bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(off - extra)}
			} else {
				ins.Jf = uint8(off)
			}
		}
		out[at] = ins
	}
	return out
}

func unmark(b *block) {
	if b == nil || !b.mark {
		return
	}
	b.mark = false
	unmark(b.jt)
	unmark(b.jf)
}
