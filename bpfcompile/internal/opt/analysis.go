package opt

import (
	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// analyze computes the shape of the program for a round: the order of the
// reachable blocks, the edges into each, the dominator tree and which
// registers each block reads and writes and are read after it.
func (o *optimizer) analyze() {
	if !o.shaped || o.shape != o.ordered {
		o.levelOrder()
		o.findPreds()
	}
	if !o.shaped || o.shape != o.dominated {
		o.findDominators()
	}
	o.shaped, o.ordered, o.dominated = true, o.shape, o.shape
	o.findUses()
	o.analyzed, o.fresh = o.shape, true
}

// levelOrder orders the reachable blocks by level, the length of the
// longest path from the block to a return, highest first: the entry
// first, every block before its successors. Within a level, blocks come in
// the reverse of the order a depth-first walk (true successor first)
// finishes them, as libpcap's level lists do; its passes visit blocks in
// this order (or its reverse).
func (o *optimizer) levelOrder() {
	// The slices in locals: the compiler reloads a field after every
	// store through a pointer, and this walk stores at every step.
	bs := o.b
	n := len(bs)
	o.work += n
	// state: 0 unseen, 1 and 2 walking (the successor to walk next, true
	// then false), 3 walking with both walked, 4 done.
	state := o.state[:n]
	clear(state)
	stack := o.stack[:n] // every block is pushed once at most
	finish := o.finish[:n]
	nf := 0
	// The walk looks at every edge out of a reachable block once: it
	// counts the edges into each block for findPreds.
	deg := o.inDeg[:n]
	clear(deg)
	// The blocks of each level, counted as they finish (a level is below
	// n).
	perLevel := o.count[:n+1]
	clear(perLevel)
	// i is the block at the top of the stack, stack[top].
	i := o.root
	stack[0], state[i] = i, 1
	top := 0
	maxLevel := int32(0)
	cycle := false
	for {
		b := &bs[i]
		if k := state[i]; k < 3 && b.jt >= 0 {
			c := b.jt
			switch {
			case k == 2:
				c = b.jf
				state[i] = 3
			case b.op == opJA:
				state[i] = 3
			default:
				state[i] = 2
			}
			deg[c]++
			switch state[c] {
			case 0:
				state[c] = 1
				top++
				stack[top] = c
				i = c
			case 1, 2, 3:
				cycle = true // an edge back to a block being walked
			}
			continue
		}
		state[i] = 4
		level := int32(0)
		if b.jt >= 0 {
			level = max(bs[b.jt].level, bs[b.jf].level) + 1
			maxLevel = max(maxLevel, level)
		}
		b.level = level
		perLevel[level]++
		finish[nf] = i
		nf++
		if top == 0 {
			break
		}
		top--
		i = stack[top]
	}
	finish = finish[:nf]
	if cycle {
		o.cycle = true
	}
	if len(finish) < n {
		for i := range state {
			if state[i] != 4 {
				bs[i].rpo = -1
			}
		}
	}
	// Counting sort by level, highest first; within a level the latest
	// finished first. perLevel becomes the position of each level's next
	// block.
	at := int32(0)
	for l := maxLevel; l >= 0; l-- {
		at, perLevel[l] = at+perLevel[l], at
	}
	order := o.order[:len(finish)]
	for j := len(finish) - 1; j >= 0; j-- {
		i := finish[j]
		b := &bs[i]
		p := perLevel[b.level]
		order[p] = i
		b.rpo = p
		perLevel[b.level] = p + 1
	}
	o.order = order
	o.degShape = o.shape
}

// findPreds lists the edges into every reachable block.
func (o *optimizer) findPreds() {
	bs, order := o.b, o.order
	n := len(bs)
	deg := o.inDeg[:n]
	if o.degShape != o.shape {
		// The edges changed since levelOrder counted them.
		clear(deg)
		for _, i := range order {
			if b := &bs[i]; b.jt >= 0 {
				deg[b.jt]++
				if b.op != opJA {
					deg[b.jf]++
				}
			}
		}
	}
	// One array for all the lists, each with room for two edges more
	// (pullups move edges; a list that outgrows its room moves to the end).
	offs, caps, cnt := o.predOff[:n], o.predCap[:n], o.predN[:n]
	off := int32(0)
	for i, d := range deg {
		offs[i], caps[i] = off, d+2
		off += d + 2
	}
	if need := int(off); len(o.predArena) < need {
		o.predArena = make([]int32, need, 2*need)
	}
	arena := o.predArena[:off]
	o.predArena = arena
	clear(cnt)
	// The lists have room for every edge: filled in place.
	for _, i := range order {
		b := &bs[i]
		if b.jt >= 0 {
			arena[offs[b.jt]+cnt[b.jt]] = 2 * i
			cnt[b.jt]++
			if b.op != opJA {
				arena[offs[b.jf]+cnt[b.jf]] = 2*i + 1
				cnt[b.jf]++
			}
		}
	}
}

// addPred adds edge e to the list of edges into block c.
func (o *optimizer) addPred(c, e int32) {
	if o.predN[c] == o.predCap[c] {
		// Out of room: move the list to the end of the array.
		off, n := o.predOff[c], o.predN[c]
		at := int32(len(o.predArena))
		o.predArena = append(o.predArena, o.predArena[off:off+n]...)
		o.predArena = append(o.predArena, make([]int32, n+2)...)
		o.predOff[c], o.predCap[c] = at, 2*n+2
	}
	o.predArena[o.predOff[c]+o.predN[c]] = e
	o.predN[c]++
}

// removePred removes edge e from the list of edges into block c.
func (o *optimizer) removePred(c, e int32) {
	in := o.predsOf(c)
	for k, x := range in {
		if x == e {
			copy(in[k:], in[k+1:])
			o.predN[c]--
			return
		}
	}
}

// predsOf returns the edges into block i (2*block+slot).
func (o *optimizer) predsOf(i int32) []int32 {
	off, n := int(o.predOff[i]), int(o.predN[i])
	return o.predArena[off : off+n : off+n]
}

// findDominators computes the immediate dominator of every reachable
// block but the returns. The order is topological, so one pass suffices.
func (o *optimizer) findDominators() {
	bs, root := o.b, o.root
	arena, offs, ns := o.predArena, o.predOff, o.predN
	o.work += len(o.order)
	for _, i := range o.order {
		b := &bs[i]
		if i == root {
			b.idom = i
			continue
		}
		if b.isLeaf() {
			// Nothing asks what dominates a return, and the returns are
			// where long chains meet: the walks would cost most.
			b.idom = -1
			continue
		}
		// The edges in, arena[off:end] (predsOf's list, without making
		// the slice).
		off, end := offs[i], offs[i]+ns[i]
		d := int32(-1)
		if off < end {
			d = arena[off] >> 1
		}
		for k := off + 1; k < end; k++ {
			p := arena[k] >> 1
			for d != p {
				for bs[d].rpo > bs[p].rpo {
					d = bs[d].idom
				}
				for bs[p].rpo > bs[d].rpo {
					p = bs[p].idom
				}
			}
		}
		b.idom = d
	}
}

// atomUse returns the registers an instruction reads.
func atomUse(ri bpf.RawInstruction) atomSet {
	switch ri.Op & 0x07 {
	case cbpf.RET:
		if ri.Op == cbpf.RET|cbpf.A {
			return 1 << atomA
		}
		return 0
	case cbpf.LD, cbpf.LDX:
		switch ri.Op & 0xe0 {
		case cbpf.IND:
			return 1 << atomX
		case cbpf.MEM:
			return 1 << (atomM + ri.K&15)
		case cbpf.ABS:
			if ri.Op&0x07 == cbpf.LD && ri.K >= cbpf.AncillaryBase && !pureAncillary(ri.K-cbpf.AncillaryBase) {
				return 1<<atomA | 1<<atomX
			}
		}
		return 0
	case cbpf.ST:
		return 1 << atomA
	case cbpf.STX:
		return 1 << atomX
	case cbpf.ALU, cbpf.JMP:
		if ri.Op == cbpf.JMP|cbpf.JA {
			return 0
		}
		if ri.Op&cbpf.X != 0 && ri.Op != cbpf.ALU|cbpf.NEG {
			return 1<<atomA | 1<<atomX
		}
		return 1 << atomA
	case cbpf.MISC:
		if ri.Op == cbpf.MISC|cbpf.TXA {
			return 1 << atomX
		}
		return 1 << atomA
	}
	return 0
}

// atomDef returns the register an instruction writes, or -1.
func atomDef(ri bpf.RawInstruction) int {
	switch ri.Op & 0x07 {
	case cbpf.LD, cbpf.ALU:
		return atomA
	case cbpf.LDX:
		return atomX
	case cbpf.ST, cbpf.STX:
		return atomM + int(ri.K&15)
	case cbpf.MISC:
		if ri.Op == cbpf.MISC|cbpf.TAX {
			return atomX
		}
		return atomA
	}
	return -1
}

// regInfo is what atomUse and atomDef say of an opcode, for the passes
// that ask it of every statement of every block each round: the
// registers read and the one written (-1 none), and how k changes them.
type regInfo struct {
	use  atomSet
	def  int8
	kind uint8
}

// What k does to the registers of an opcode.
const (
	regsFixed    = iota
	regsReadM    // reads M[k]
	regsWriteM   // writes M[k]
	regsAbsolute // an absolute load: k may be an ancillary load of A and X
)

// regTable holds regInfo by opcode (every valid opcode is below 256).
var regTable = func() (t [256]regInfo) {
	for op := range t {
		ri := bpf.RawInstruction{Op: uint16(op)}
		r := &t[op]
		r.use, r.def = atomUse(ri), int8(atomDef(ri))
		switch {
		case uint16(op) == cbpf.LD|cbpf.MEM || uint16(op) == cbpf.LDX|cbpf.MEM:
			r.kind = regsReadM
		case uint16(op)&0x07 == cbpf.ST || uint16(op)&0x07 == cbpf.STX:
			r.kind = regsWriteM
		case uint16(op)&0x07 == cbpf.LD && uint16(op)&0xe0 == cbpf.ABS:
			r.kind = regsAbsolute
		}
	}
	return t
}()

// regsK returns atomUse(ri) and atomDef(ri) for the opcodes whose
// registers depend on k (regTable gives the others': the passes look the
// table up themselves, a call costing more than the lookup).
func regsK(ri bpf.RawInstruction, kind uint8) (use atomSet, def int) {
	switch kind {
	case regsReadM:
		return 1 << (atomM + ri.K&15), atomDef(ri)
	case regsWriteM:
		return atomUse(ri), atomM + int(ri.K&15)
	}
	// An absolute load (of A): an ancillary load whose value depends on
	// more than the packet reads A and X.
	if ri.K >= cbpf.AncillaryBase && !pureAncillary(ri.K-cbpf.AncillaryBase) {
		return 1<<atomA | 1<<atomX, atomA
	}
	return 0, atomA
}

// termUse returns the registers b's terminator reads.
func (b *block) termUse() atomSet { return regTable[uint8(b.op)].use }

// findUses computes, bottom up, the registers each block reads before
// writing them (inUse) and the registers read after it (outUse), from the
// registers its statements read first and write before reading
// (localUses, which number keeps up to date).
func (o *optimizer) findUses() {
	bs, order := o.b, o.order
	known := o.usesKnown
	o.work += len(order)
	for j := len(order) - 1; j >= 0; j-- {
		b := &bs[order[j]]
		if !known {
			b.localUses()
		}
		var out atomSet
		if b.jt >= 0 {
			out = bs[b.jt].inUse
			if b.op != opJA {
				out |= bs[b.jf].inUse
			}
		}
		if out != b.outUse {
			b.outUse, b.noDeadDefs, b.numbered = out, false, 0
		}
		b.inUse = b.luse | out&^b.kill
	}
	o.usesKnown = true
}

// localUses computes the registers b reads before writing them (luse,
// its terminator included) and writes before reading (kill).
func (b *block) localUses() {
	var use, def, kill atomSet
	for j := range b.stmts {
		s := &b.stmts[j]
		if s.Op == nop {
			continue
		}
		r := &regTable[uint8(s.Op)]
		u, d := r.use, int(r.def)
		if r.kind != regsFixed && (r.kind != regsAbsolute || s.K >= cbpf.AncillaryBase) {
			// (A packet load's registers are the table's.)
			u, d = regsK(*s, r.kind)
		}
		use |= u &^ def
		if d >= 0 {
			m := atomSet(1) << d
			if use&m == 0 {
				kill |= m
			}
			def |= m
		}
	}
	b.luse = use | b.termUse()&^def
	b.kill = kill
}

// resize returns s with length n, reallocated only when too short.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
