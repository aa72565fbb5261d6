package opt

import (
	"math/bits"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// number numbers the values of every block, top down: a block starts with
// the values its predecessors agree on. It then rewrites the block's
// short patterns (peephole) and removes definitions nothing reads
// (deadDefs), and notes the operand its branch compares A with.
//
// With alter set (the statement phase) it also rewrites statements as it
// goes: a statement that writes a register with the value it holds goes,
// constants fold, constant index registers become offsets and constant X
// operands immediates; a block whose statements leave A and X as they
// were and that nothing after reads from, and a return, lose their
// statements. Division and modulus by a constant zero, and shifts by a
// constant X of 32 or more, are errors then.
//
// The value table lives as long as the optimizer: a computation keeps its
// number from round to round. A block number changed nothing in, in the
// same phase, that starts with the values it started with then and reads
// after it what was read then (findUses clears the mark when that
// changes), would come out as it did: number skips it (the round that
// confirms nothing changes finds most blocks as they were). Its exit
// values hold: they name the same computations. A block the branch phase
// changed nothing in and where no rewrite of the statement phase applies
// (wouldAlter) is skipped in the statement phase likewise.
func (o *optimizer) number(alter bool) error {
	bs := o.b
	nv := len(bs[0].val)
	mark := numberedBranch
	if alter {
		mark = numberedStmts
	}
	// Where the edges are as they were at the start of the last call (and
	// the lists of edges in, which are redone at the start of a round,
	// are theirs), a block starts with the values it started with then
	// unless a predecessor was worked on in this call: those mark their
	// successors (dirty). (peephole may move edges: the next call then
	// looks at every block.)
	shape := o.shape
	asBefore := o.numberedShape == shape
	if o.fullNumber {
		// As before the skips: the values numbered anew every round, no
		// block skipped, every operand numbered again.
		o.vals.reset()
		asBefore, mark = false, 0
		for i := range bs {
			bs[i].oval = unknown
		}
	}
	dirty := o.dirty
	clear(dirty)
	for _, i := range o.order {
		b := &bs[i]
		o.work += len(b.stmts) + 4
		in := b.val[nv : 2*nv : 2*nv] // see block.val
		if asBefore && dirty[i] == 0 {
			if b.numbered&mark != 0 {
				continue
			}
		} else if o.enter(i, in) && b.numbered&mark != 0 {
			continue
		}
		if b.jt >= 0 {
			// The edges before numberBlock's, the lists' edges.
			dirty[b.jt], dirty[b.jf] = 1, 1
		}
		if err := o.numberBlock(b, in, alter); err != nil {
			return err
		}
	}
	o.numberedShape = shape
	return nil
}

// numberBlock is number's work on block b, which starts with the values
// in.
func (o *optimizer) numberBlock(b *block, in []vnum, alter bool) error {
	b.numbered = 0
	o.wouldAlter = false
	// The block's values, worked out in place: the block is none of its
	// predecessors.
	val := b.val
	val[atomA], val[atomX] = in[atomA], in[atomX]
	if len(in) > atomM { // (most programs use no scratch slot: no call)
		copy(val[atomM:], in[atomM:])
	}
	// Whether this block changes is known apart from the others'.
	before := o.changed
	o.changed = false
	edits, shape, op0, k0 := o.edits, o.shape, b.op, b.k
	aval, xval := val[atomA], val[atomX]
	for j := range b.stmts {
		if b.stmts[j].Op == nop {
			continue
		}
		if err := o.evalStmt(&b.stmts[j], val, alter); err != nil {
			return err
		}
	}
	if o.edits != edits {
		b.noDeadDefs = false
	}
	if b.op == cbpf.RET|cbpf.A {
		if c, ok := o.vals.isConst(val[atomA]); ok && o.alters(alter) {
			// Not libpcap's (its code generator returns constants).
			b.op, b.k = cbpf.RET|cbpf.K, c
			o.changed, o.moved = true, true
		}
	}
	touched := true // the statements or the terminator changed
	empties := (b.outUse == 0 && aval != unknown && val[atomA] == aval && xval != unknown && val[atomX] == xval) ||
		b.op == cbpf.RET|cbpf.K
	if empties && !alter && len(b.stmts) > 0 {
		// (Without statements, the statement phase's way differs only
		// in what it does not do: peephole and deadDefs, which changed
		// nothing here.)
		o.wouldAlter = true
	}
	if empties && alter {
		if liveStmts(b.stmts) > 0 {
			o.changed, o.moved = true, true
		}
		b.stmts, b.noDeadDefs = b.stmts[:0], false
	} else {
		// What a block reads and writes changes only where it does:
		// these two change statements (saying so) or the terminator,
		// and with alter evalStmt rewrites statements (counted in
		// edits).
		op := b.op
		o.peephole(b)
		if o.changed || b.op != op || !b.noDeadDefs {
			// What deadDefs reads changed, or it removed something the
			// last time: it may find something now. (The round that
			// confirms nothing changes finds most blocks as they were.)
			peep := o.changed
			o.changed = false
			o.deadDefs(b)
			b.noDeadDefs = !o.changed
			o.changed = o.changed || peep
		}
		touched = o.changed || b.op != op || o.edits != edits
	}
	if !o.changed && o.edits == edits && o.shape == shape && b.op == op0 && b.k == k0 {
		// Nothing changed (peephole makes some changes it does not
		// count: a constant X operand becomes k).
		switch {
		case alter:
			b.numbered = numberedStmts
		case o.wouldAlter:
			b.numbered = numberedBranch
		default:
			b.numbered = numberedBranch | numberedStmts
		}
	}
	o.changed = o.changed || before
	if touched || b.op&cbpf.X != 0 || b.oval == unknown {
		// A constant operand's number lasts (the value table does): it
		// changes only with the terminator.
		o.setOval(b)
	}
	if touched {
		b.localUses()
	}
	return nil
}

// Marks of a block number changed nothing in (block.numbered), by phase:
// bits.
const (
	numberedBranch uint8 = 1 << iota
	numberedStmts
)

// alters reports whether to make a rewrite of the statement phase whose
// condition holds: with alter set. Without, it notes that the statement
// phase would make one (wouldAlter), and number does not skip the block
// then. (Called last in the conditions, when all else holds.)
func (o *optimizer) alters(alter bool) bool {
	if !alter {
		o.wouldAlter = true
	}
	return alter
}

// enter sets in to the values block i starts with, the values its
// predecessors agree on, and reports whether they are what in held.
func (o *optimizer) enter(i int32, in []vnum) bool {
	bs, arena := o.b, o.predArena
	// The edges in, arena[off:end] (predsOf's list, without making the
	// slice).
	off, end := o.predOff[i], o.predOff[i]+o.predN[i]
	same := true
	switch end - off {
	case 0:
		for a, v := range in {
			if v != unknown {
				in[a], same = unknown, false
			}
		}
	case 1:
		for a, v := range bs[arena[off]>>1].val[:len(in)] {
			if in[a] != v {
				in[a], same = v, false
			}
		}
	default:
		for a, v := range bs[arena[off]>>1].val[:len(in)] {
			for k := off + 1; k < end; k++ {
				if bs[arena[k]>>1].val[a] != v {
					v = unknown
					break
				}
			}
			if in[a] != v {
				in[a], same = v, false
			}
		}
	}
	return same
}

// setOval notes the operand b's branch compares A with.
func (o *optimizer) setOval(b *block) {
	if b.op&cbpf.X == 0 {
		b.oval = o.vals.constant(b.k)
	} else {
		b.oval = b.val[atomX]
	}
}

// liveStmts counts the statements of s that are not nops.
func liveStmts(s []bpf.RawInstruction) int {
	n := 0
	for _, ri := range s {
		if ri.Op != nop {
			n++
		}
	}
	return n
}

// store records that register *reg now holds v; with alter, a statement
// that writes the value the register holds already goes.
func (o *optimizer) store(s *bpf.RawInstruction, reg *vnum, v vnum, alter bool) {
	if v != unknown && *reg == v && o.alters(alter) {
		// libpcap's optimizer does not count this as a change that
		// calls for another round.
		s.Op = nop
		o.edits++
		return
	}
	*reg = v
}

// rewrite replaces statement s, a change that calls for another round.
func (o *optimizer) rewrite(s *bpf.RawInstruction, op uint16, k uint32) {
	s.Op, s.K = op, k
	o.changed, o.moved = true, true
	o.edits++
}

// Some rewrites do not call for another round by themselves (libpcap's
// optimizer does not count them; which rewrites count decides where it
// stops).
func (o *optimizer) quietRewrite(s *bpf.RawInstruction, op uint16, k uint32) {
	s.Op, s.K = op, k
	o.edits++
}

// evalStmt gives the register s writes its value number, and with alter
// rewrites s as number says.
func (o *optimizer) evalStmt(s *bpf.RawInstruction, val []vnum, alter bool) error {
	t := &o.vals
	switch op := s.Op; {
	case op&0x07 == cbpf.LD && op&0xe0 == cbpf.ABS:
		v := t.num(op, s.K, 0)
		if s.K >= cbpf.AncillaryBase && !pureAncillary(s.K-cbpf.AncillaryBase) {
			v = t.unique()
		}
		o.store(s, &val[atomA], v, alter)
	case op&0x07 == cbpf.LD && op&0xe0 == cbpf.IND:
		x := val[atomX]
		var v vnum
		if c, ok := t.isConst(x); ok && uint64(c)+uint64(s.K) < cbpf.AncillaryBase && o.alters(alter) {
			o.rewrite(s, cbpf.LD|cbpf.ABS|op&0x18, s.K+c)
			v = t.num(s.Op, s.K, 0)
		} else {
			v = t.num(op, s.K, x)
		}
		o.store(s, &val[atomA], v, alter)
	case op == cbpf.LD|cbpf.LEN:
		o.store(s, &val[atomA], t.num(op, 0, 0), alter)
	case op == cbpf.LDX|cbpf.LEN:
		o.store(s, &val[atomX], t.num(op, 0, 0), alter)
	case op == cbpf.LD|cbpf.IMM:
		o.store(s, &val[atomA], t.constant(s.K), alter)
	case op == cbpf.LDX|cbpf.IMM:
		o.store(s, &val[atomX], t.constant(s.K), alter)
	case op == cbpf.LDX|cbpf.MSH|cbpf.B:
		o.store(s, &val[atomX], t.num(op, s.K, 0), alter)
	case op == cbpf.ALU|cbpf.NEG:
		if c, ok := t.isConst(val[atomA]); ok && o.alters(alter) {
			o.quietRewrite(s, cbpf.LD|cbpf.IMM, -c)
			val[atomA] = t.constant(s.K)
		} else {
			val[atomA] = t.num(op, val[atomA], 0)
		}
	case op&0x07 == cbpf.ALU && op&cbpf.X == 0:
		alu := op & 0xf0
		if s.K == 0 && alu != cbpf.SUB && o.alters(alter) {
			switch alu {
			case cbpf.ADD, cbpf.LSH, cbpf.RSH, cbpf.OR, cbpf.XOR:
				o.quietRewrite(s, nop, 0)
				return nil
			case cbpf.MUL, cbpf.AND:
				o.quietRewrite(s, cbpf.LD|cbpf.IMM, 0)
				val[atomA] = t.constant(0)
				return nil
			case cbpf.DIV:
				return ErrDivisionByZero
			case cbpf.MOD:
				return ErrModulusByZero
			}
		}
		if a, ok := t.isConst(val[atomA]); ok && o.alters(alter) {
			o.rewrite(s, cbpf.LD|cbpf.IMM, fold(alu, a, s.K))
			val[atomA] = t.constant(s.K)
			return nil
		}
		val[atomA] = t.num(op, val[atomA], t.constant(s.K))
	case op&0x07 == cbpf.ALU:
		alu := op & 0xf0
		if x, ok := t.isConst(val[atomX]); ok && o.alters(alter) {
			if a, ok := t.isConst(val[atomA]); ok {
				switch {
				case x == 0 && alu == cbpf.DIV:
					return ErrDivisionByZero
				case x == 0 && alu == cbpf.MOD:
					return ErrModulusByZero
				}
				o.rewrite(s, cbpf.LD|cbpf.IMM, fold(alu, a, x))
				val[atomA] = t.constant(s.K)
				return nil
			}
			o.rewrite(s, cbpf.ALU|cbpf.K|alu, x)
			if (alu == cbpf.LSH || alu == cbpf.RSH) && x > 31 {
				return ErrShiftTooFar
			}
			val[atomA] = t.num(s.Op, val[atomA], t.constant(x))
			return nil
		}
		if a, ok := t.isConst(val[atomA]); ok && a == 0 && alu != cbpf.SUB && o.alters(alter) {
			switch alu {
			case cbpf.ADD, cbpf.OR, cbpf.XOR:
				o.quietRewrite(s, cbpf.MISC|cbpf.TXA, 0)
				o.store(s, &val[atomA], val[atomX], alter)
				return nil
			case cbpf.MUL, cbpf.DIV, cbpf.MOD, cbpf.AND, cbpf.LSH, cbpf.RSH:
				o.quietRewrite(s, cbpf.LD|cbpf.IMM, 0)
				o.store(s, &val[atomA], t.constant(0), alter)
				return nil
			}
		}
		val[atomA] = t.num(op, val[atomA], val[atomX])
	case op == cbpf.MISC|cbpf.TXA:
		o.store(s, &val[atomA], val[atomX], alter)
	case op == cbpf.MISC|cbpf.TAX:
		o.store(s, &val[atomX], val[atomA], alter)
	case op == cbpf.LD|cbpf.MEM:
		v := val[atomM+s.K&15]
		if c, ok := t.isConst(v); ok && o.alters(alter) {
			o.rewrite(s, cbpf.LD|cbpf.IMM, c)
		}
		o.store(s, &val[atomA], v, alter)
	case op == cbpf.LDX|cbpf.MEM:
		v := val[atomM+s.K&15]
		if c, ok := t.isConst(v); ok && o.alters(alter) {
			o.rewrite(s, cbpf.LDX|cbpf.IMM, c)
		}
		o.store(s, &val[atomX], v, alter)
	case op == cbpf.ST:
		o.store(s, &val[atomM+s.K&15], val[atomA], alter)
	case op == cbpf.STX:
		o.store(s, &val[atomM+s.K&15], val[atomX], alter)
	}
	return nil
}

// nextLive returns the index of the first statement at or after j that is
// not a nop, or -1.
func nextLive(s []bpf.RawInstruction, j int) int {
	for ; j < len(s); j++ {
		if s[j].Op != nop {
			return j
		}
	}
	return -1
}

// peephole rewrites short patterns of b:
//   - "st M[k]; ldx M[k]" becomes "st M[k]; tax", "ld #k; tax" becomes
//     "ldx #k; txa";
//   - "ld #k; [ldxb 4*([n]&0xf);] add x; tax; ld [x+j]" becomes
//     "[ldxb 4*([n]&0xf);] ld [x+k+j]" when X is not read after b;
//   - when A is not read after b: "sub x; jeq #0" becomes "jeq x" (and
//     "sub x; jeq #k" with a constant X "jeq #(k+X)"), "sub #j; jeq #k"
//     becomes "jeq #(k+j)", "and #k; jeq #0" a jset with the branches
//     swapped;
//   - "jset #0" goes to its false branch, "jset #0xffffffff" becomes
//     "jeq #0" with the branches swapped;
//   - a branch on a constant X tests the constant, and a branch on a
//     constant A goes one way.
func (o *optimizer) peephole(b *block) {
	t := &o.vals
	st := b.stmts
	last := -1
	for j := nextLive(st, 0); j >= 0; {
		next := nextLive(st, j+1)
		if next < 0 {
			last = j
			break
		}
		last = next
		s, n := &st[j], &st[next]
		if s.Op == cbpf.ST && n.Op == cbpf.LDX|cbpf.MEM && s.K == n.K {
			n.Op, n.K = cbpf.MISC|cbpf.TAX, 0
			o.changed, o.moved = true, true
		}
		if s.Op == cbpf.LD|cbpf.IMM && n.Op == cbpf.MISC|cbpf.TAX {
			s.Op = cbpf.LDX | cbpf.IMM
			n.Op = cbpf.MISC | cbpf.TXA
			o.changed, o.moved = true, true
		}
		if s.Op == cbpf.LD|cbpf.IMM && b.outUse&(1<<atomX) == 0 {
			add := next
			if n.Op == cbpf.LDX|cbpf.MSH|cbpf.B {
				add = nextLive(st, next+1)
			}
			if add >= 0 && st[add].Op == cbpf.ALU|cbpf.ADD|cbpf.X {
				if tax := nextLive(st, add+1); tax >= 0 && st[tax].Op == cbpf.MISC|cbpf.TAX {
					if ild := nextLive(st, tax+1); ild >= 0 && st[ild].Op&0x07 == cbpf.LD && st[ild].Op&0xe0 == cbpf.IND {
						st[ild].K += s.K
						s.Op, st[add].Op, st[tax].Op = nop, nop, nop
						o.changed, o.moved = true, true
					}
				}
			}
		}
		j = next
	}
	if b.op == cbpf.JMP|cbpf.JEQ|cbpf.K && b.outUse&(1<<atomA) == 0 && last >= 0 {
		l := &st[last]
		switch {
		case l.Op == cbpf.ALU|cbpf.SUB|cbpf.X:
			if x, ok := t.isConst(b.val[atomX]); ok {
				b.k += x
				l.Op = nop
				o.changed, o.moved = true, true
			} else if b.k == 0 {
				l.Op = nop
				b.op = cbpf.JMP | cbpf.JEQ | cbpf.X
				o.changed, o.moved = true, true
			}
		case l.Op == cbpf.ALU|cbpf.SUB|cbpf.K:
			l.Op = nop
			b.k += l.K
			o.changed, o.moved = true, true
		case l.Op == cbpf.ALU|cbpf.AND|cbpf.K && b.k == 0:
			b.op, b.k = cbpf.JMP|cbpf.JSET|cbpf.K, l.K
			l.Op = nop
			b.jt, b.jf = b.jf, b.jt
			o.changed, o.moved = true, true
			o.shape++
		}
	}
	if b.op == cbpf.JMP|cbpf.JSET|cbpf.K {
		switch b.k {
		case 0:
			b.jt = b.jf // not counted as a change, as in libpcap
			o.shape++
		case 0xffffffff:
			b.op, b.k = cbpf.JMP|cbpf.JEQ|cbpf.K, 0
			b.jt, b.jf = b.jf, b.jt
			o.changed, o.moved = true, true
			o.shape++
		}
	}
	if !b.isCond() {
		return
	}
	if b.op&cbpf.X != 0 {
		if x, ok := t.isConst(b.val[atomX]); ok {
			b.op &^= cbpf.X
			b.k = x
		}
	}
	if a, ok := t.isConst(b.val[atomA]); ok && b.op&cbpf.X == 0 {
		var res bool
		switch b.op & 0xf0 {
		case cbpf.JEQ:
			res = a == b.k
		case cbpf.JGT:
			res = a > b.k
		case cbpf.JGE:
			res = a >= b.k
		default:
			res = a&b.k != 0
		}
		if b.jt != b.jf {
			o.changed, o.moved = true, true
		}
		if res {
			b.jf = b.jt
		} else {
			b.jt = b.jf
		}
		o.shape++
	}
}

// deadDefs removes, in b, a definition of a register that b writes again
// before anything reads it, and the last definition of a register nothing
// after b reads. (A load that could run off the packet goes too: libpcap's
// optimizer treats loads as free of effects.)
func (o *optimizer) deadDefs(b *block) {
	if len(b.stmts) == 0 {
		return // (a return's block, mostly)
	}
	var last [nAtoms]int32 // 1 + the statement that wrote the register last
	var pending atomSet    // the registers whose last write nothing read yet
	for j := range b.stmts {
		ri := &b.stmts[j]
		if ri.Op == nop {
			continue
		}
		r := &regTable[uint8(ri.Op)]
		use, d := r.use, int(r.def)
		if r.kind != regsFixed && (r.kind != regsAbsolute || ri.K >= cbpf.AncillaryBase) {
			// (A packet load's registers are the table's.)
			use, d = regsK(*ri, r.kind)
		}
		pending &^= use
		if d >= 0 {
			if pending&(1<<d) != 0 {
				b.stmts[last[d]-1].Op = nop
				o.changed, o.moved = true, true
			}
			last[d] = int32(j) + 1
			pending |= 1 << d
		}
	}
	pending &^= b.termUse()
	for dead := pending &^ b.outUse; dead != 0; dead &= dead - 1 {
		a := trailingZeros(dead)
		b.stmts[last[a]-1].Op = nop
		b.val[a] = unknown
		o.changed, o.moved = true, true
	}
}

// trailingZeros returns the index of the lowest set bit of a non-empty set.
func trailingZeros(s atomSet) int { return bits.TrailingZeros32(uint32(s)) }
