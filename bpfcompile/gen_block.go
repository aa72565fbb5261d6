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
	jt, jf uint8
	k      uint32
}

// meaning records whether a block is a known constant, which lets and/or
// drop the other operand as libpcap does.
type meaning uint8

const (
	uncertain meaning = iota
	isTrue
	isFalse
)

// noBlock is the successor of a return: no block.
const noBlock = -1

// unreached and queued are the offsets of a block before reachable
// numbers it: not seen yet, and on its stack.
const (
	unreached = -1
	queued    = -2
)

// block is a basic block: statements, then a conditional jump (or a
// return) whose targets are other blocks. Blocks live in the generator's
// slab (gen.blk) and name each other by index there, and a block's
// statements are a run of gen.stmts: the memory of the graph holds no
// pointer, so building it costs no write barrier while the collector
// marks, and the collector has nothing in it to scan.
type block struct {
	first, nstmts int32 // the statements: gen.stmts[first:first+nstmts]
	jt, jf        int32 // the successors (noBlock for a return)
	k             uint32
	code          uint16 // the final jump or return

	// layout state
	mark           bool
	longjt, longjf uint8 // 1: the branch goes through a ja after the block
	offset         int32 // unreached until reachable numbers the block
	next           int32 // the block numbered after it (noBlock: none)

	// The exits after the block's true and false edges in the lists of a
	// fragment under construction (exit).
	tNext, fNext exit
}

// exit is an unresolved branch of a block: 2*b+1 is the true edge of
// block b, 2*b+2 its false edge, 0 none. Exits form singly linked lists
// (through block.tNext and fNext) that and/or join in constant time.
type exit int32

func trueExit(b int32) exit  { return exit(2*b + 1) }
func falseExit(b int32) exit { return exit(2*b + 2) }

// exits is a list of exits. Joining two lists links them, so a list
// belongs to one fragment at a time: each fragment is combined once.
type exits struct{ head, tail exit }

// join returns the list of x's exits followed by y's, reusing both.
func (g *gen) join(x, y exits) exits {
	switch {
	case x.head == 0:
		return y
	case y.head == 0:
		return x
	}
	b := &g.blk[(x.tail-1)>>1]
	if (x.tail-1)&1 == 0 {
		b.tNext = y.head
	} else {
		b.fNext = y.head
	}
	return exits{x.head, y.tail}
}

// setAll points every exit of l at block t.
func (g *gen) setAll(l exits, t int32) {
	for e := l.head; e != 0; {
		b := &g.blk[(e-1)>>1]
		if (e-1)&1 == 0 {
			b.jt, e = t, b.tNext
		} else {
			b.jf, e = t, b.fNext
		}
	}
}

// frag is a condition under construction: an entry block and the edges
// that leave it when the condition holds (t) and when it does not (f).
type frag struct {
	head int32
	t, f exits
	m    meaning
	free *frag // the next on the free list (newFrag)
}

// blocksPerPrimitive is about the blocks and the statements a primitive
// makes: 6 to 14 of each for the typical ones (tcp port 443: 11 and 11;
// a port in a chain of them: 23 and 29). Reserving room for them at once
// spares the slabs their regrowth.
const blocksPerPrimitive = 12

// reserve makes room for the blocks and statements of a program of about
// blocks blocks (sizePrimitives), and the two returns, when the rooms in
// the generator are too small. Arithmetic makes statements rather than
// blocks, about one per two characters of the expression
// (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0: 6 blocks, 27 statements).
func (g *gen) reserve(blocks int) {
	n := 2 + blocks
	if n > len(g.blkRoom) {
		g.blk = make([]block, 0, n)
	}
	if n += len(g.src) / 2; n > len(g.stmtRoom) {
		g.stmts = make([]stmt, 0, n)
	}
}

// stmtsOf returns the statements of block b, to read: appending to them
// would overwrite the next block's.
func (g *gen) stmtsOf(b *block) []stmt {
	return g.stmts[b.first : b.first+b.nstmts]
}

// newBlock adds a block that runs a copy of stmts and ends in code, k
// (a jump whose targets are not set yet, or a return).
func (g *gen) newBlock(code uint16, k uint32, stmts []stmt) int32 {
	first := len(g.stmts)
	g.addStmts(stmts)
	return g.endBlock(code, k, first)
}

// endBlock adds a block that runs the statements of the arena from first
// on (the caller appended them there, and noted a jump among them) and
// ends in code, k.
func (g *gen) endBlock(code uint16, k uint32, first int) int32 {
	id := int32(len(g.blk))
	// Filled in place: the slab past its length is zero (it never
	// shrinks), so only the fields that are not are set.
	if len(g.blk) == cap(g.blk) {
		g.blk = append(g.blk, block{})
	} else {
		g.blk = g.blk[:id+1]
	}
	b := &g.blk[id]
	b.first, b.nstmts = int32(first), int32(len(g.stmts)-first)
	b.jt, b.jf, b.k, b.code, b.offset = noBlock, noBlock, k, code, unreached
	return id
}

// addStmts appends stmts to the arena, noting whether one jumps. (One by
// one: a block has one or two, fewer than a copy's call costs.)
func (g *gen) addStmts(stmts []stmt) {
	out := g.stmts
	for _, s := range stmts {
		if s.code&0x07 == cbpf.JMP {
			g.stmtJumps = true
		}
		out = append(out, s)
	}
	g.stmts = out
}

// prependStmts puts s before the statements of block b.
func (g *gen) prependStmts(s []stmt, b int32) {
	if len(s) == 0 {
		return
	}
	first, n := g.blk[b].first, g.blk[b].nstmts
	at := int32(len(g.stmts))
	g.addStmts(s)
	g.stmts = append(g.stmts, g.stmts[first:first+n]...)
	g.blk[b].first, g.blk[b].nstmts = at, n+int32(len(s))
}

// jmpFrag makes a fragment of one block that runs stmts (a copy: callers
// may reuse theirs) and jumps on "A <code> k".
func (g *gen) jmpFrag(code uint16, k uint32, stmts []stmt) *frag {
	return g.blockFrag(g.newBlock(code, k, stmts))
}

// blockFrag makes the fragment of the one block b.
func (g *gen) blockFrag(b int32) *frag {
	f := g.newFrag()
	f.head, f.m = b, uncertain
	f.t = exits{trueExit(b), trueExit(b)}
	f.f = exits{falseExit(b), falseExit(b)}
	return f
}

// newFrag returns a fragment of the free list or of a slab, for jmpFrag
// to set every field of but free (meaningful only on the free list): and
// and or use one of their two up, so few are in use at once.
func (g *gen) newFrag() *frag {
	if f := g.freeFrags; f != nil {
		g.freeFrags = f.free
		return f
	}
	if len(g.frags) == cap(g.frags) {
		g.frags = make([]frag, 0, 8)
	}
	g.frags = g.frags[:len(g.frags)+1]
	return &g.frags[len(g.frags)-1]
}

// freeFrag puts a fragment that is used up on the free list.
func (g *gen) freeFrag(f *frag) {
	f.free = g.freeFrags
	g.freeFrags = f
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
	g.setAll(a.t, b.head)
	a.t, a.f = b.t, g.join(b.f, a.f)
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
	g.setAll(a.f, b.head)
	a.t, a.f = g.join(b.t, a.t), b.f
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
func (g *gen) finish(a *frag, snaplen uint32) int32 {
	accept := g.newBlock(cbpf.RET|cbpf.K, snaplen, nil)
	reject := g.newBlock(cbpf.RET|cbpf.K, 0, nil)
	g.setAll(a.t, accept)
	g.setAll(a.f, reject)
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
func (g *gen) layout(root int32) ([]bpf.RawInstruction, error) {
	order := g.placeOrder(root)
	for pass := 0; ; pass++ {
		if pass > maxLayoutPasses {
			return nil, fmt.Errorf("%w: no stable layout after %d passes", errLayout, pass)
		}
		n := g.assignOffsets(order)
		grew := false
		for _, id := range order {
			b := &g.blk[id]
			if b.jt == noBlock {
				continue
			}
			at := int(b.offset) + int(b.nstmts)
			if b.longjt == 0 && int(g.blk[b.jt].offset)-at-1 >= 256 {
				b.longjt, grew = 1, true
			}
			if b.longjf == 0 && int(g.blk[b.jf].offset)-at-1 >= 256 {
				b.longjf, grew = 1, true
			}
		}
		if !grew {
			return g.emit(order, n), nil
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
func (g *gen) placeOrder(root int32) []int32 {
	var order []int32
	var visit func(b int32)
	visit = func(b int32) {
		if b == noBlock || g.blk[b].mark {
			return
		}
		g.blk[b].mark = true
		visit(g.blk[b].jf)
		visit(g.blk[b].jt)
		order = append(order, b)
	}
	visit(root)
	for _, b := range order {
		g.blk[b].mark = false
	}
	return order
}

// assignOffsets sets the offset of every block of order (placed from the
// end of the program backwards) and returns the program's length.
func (g *gen) assignOffsets(order []int32) int {
	n := 0
	for _, id := range order {
		b := &g.blk[id]
		n += int(b.nstmts) + 1 + int(b.longjt) + int(b.longjf)
	}
	tail := n
	for _, id := range order {
		b := &g.blk[id]
		tail -= int(b.nstmts) + 1 + int(b.longjt) + int(b.longjf)
		b.offset = int32(tail)
	}
	return n
}

// emit writes the instructions of the laid-out blocks: statements, the
// final jump or return, and the extra jumps after it.
func (g *gen) emit(order []int32, n int) []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, n)
	for _, id := range order {
		b := &g.blk[id]
		for i, s := range g.stmtsOf(b) {
			out[int(b.offset)+i] = bpf.RawInstruction{Op: s.code, Jt: s.jt, Jf: s.jf, K: s.k}
		}
		at := int(b.offset) + int(b.nstmts)
		ins := bpf.RawInstruction{Op: b.code, K: b.k}
		if b.jt != noBlock {
			extra := 0
			off := int(g.blk[b.jt].offset) - at - 1
			if b.longjt != 0 {
				ins.Jt = uint8(extra)
				extra++
				out[at+extra] = bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(off - extra)}
			} else {
				ins.Jt = uint8(off)
			}
			off = int(g.blk[b.jf].offset) - at - 1
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
