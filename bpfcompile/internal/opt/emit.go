package opt

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// mergeSame merges blocks that do the same (the same statements, test and
// successors) until no two do.
func (o *optimizer) mergeSame() {
	for {
		o.levelOrder()
		n := len(o.b)
		canon := resize(o.iter, n)
		for i := range canon {
			canon[i] = int32(i)
		}
		size := 16
		for size < 2*len(o.order) {
			size *= 2
		}
		table := resize(o.count, size)
		clear(table)
		mask := uint64(size - 1)
		merged := false
		// Bottom up, so that the successors are canonical already.
		for j := len(o.order) - 1; j >= 0; j-- {
			i := o.order[j]
			b := &o.b[i]
			o.work += len(b.stmts) + 1
			for s := 0; s < b.nsucc(); s++ {
				b.setSucc(s, canon[b.succ(s)])
			}
			h := b.hash() & mask
			for table[h] != 0 && !b.same(&o.b[table[h]-1]) {
				h = (h + 1) & mask
			}
			if table[h] != 0 {
				canon[i] = table[h] - 1
				merged = true
				continue
			}
			table[h] = i + 1
		}
		o.root = canon[o.root]
		o.iter, o.count = canon, table
		if !merged {
			return
		}
	}
}

// hash mixes what same compares.
func (b *block) hash() uint64 {
	h := uint64(b.op)<<32 ^ uint64(b.k)
	mix := func(v uint64) {
		h = (h ^ v) * 0x9e3779b97f4a7c15
		h ^= h >> 29
	}
	mix(uint64(uint32(b.jt))<<32 | uint64(uint32(b.jf)))
	for _, s := range b.stmts {
		if s.Op != nop {
			mix(uint64(s.Op)<<32 | uint64(s.K))
		}
	}
	return h
}

// same reports whether two blocks do the same.
func (b *block) same(c *block) bool {
	if b.op != c.op || b.k != c.k || b.jt != c.jt || b.jf != c.jf {
		return false
	}
	i, j := 0, 0
	for {
		for i < len(b.stmts) && b.stmts[i].Op == nop {
			i++
		}
		for j < len(c.stmts) && c.stmts[j].Op == nop {
			j++
		}
		if i == len(b.stmts) || j == len(c.stmts) {
			return i == len(b.stmts) && j == len(c.stmts)
		}
		if b.stmts[i].Op != c.stmts[j].Op || b.stmts[i].K != c.stmts[j].K {
			return false
		}
		i++
		j++
	}
}

// skipRoot makes the entry the first block that tests something: while
// the entry's branches go to one place, that place becomes the entry,
// with the first entry's statements (libpcap's optimizer drops those of
// the blocks in between, whose tests it skips).
func (o *optimizer) skipRoot() {
	r := &o.b[o.root]
	if !(r.isCond() && r.jt == r.jf) {
		return
	}
	first := r.stmts
	r.stmts = nil
	for r.isCond() && r.jt == r.jf {
		o.root = r.jt
		r = &o.b[o.root]
	}
	if r.isLeaf() {
		r.stmts = nil
		return
	}
	if liveStmts(first) > 0 {
		r.stmts = append(append([]bpf.RawInstruction(nil), first...), r.stmts...)
	}
}

// straight reports whether block b goes on to one successor without a
// test (an unconditional jump, or a branch whose two edges meet).
func (b *block) straight() bool {
	return b.op == opJA || b.isCond() && b.jt == b.jf
}

// emit lays the blocks out as libpcap does, each block before the blocks
// it jumps to (its false successor's after its true successor's), and
// encodes the jumps, with a ja after a branch whose target is more than 255
// instructions away. Blocks that only go on to one place are bypassed or
// fall through.
func (o *optimizer) emit() ([]bpf.RawInstruction, error) {
	n := len(o.b)
	// Bypass straight blocks without statements.
	fwd := resize(o.iter, n)
	for i := range fwd {
		fwd[i] = -1
	}
	var resolve func(i int32) int32
	resolve = func(i int32) int32 {
		if fwd[i] >= 0 {
			return fwd[i]
		}
		b := &o.b[i]
		fwd[i] = i // cycles are impossible; this stops a bad graph
		if b.straight() && liveStmts(b.stmts) == 0 {
			fwd[i] = resolve(b.jt)
		}
		return fwd[i]
	}
	root := resolve(o.root)
	// Placement: walk the false successor, then the true one, then place
	// the block; the placement is the reverse.
	state := resize(o.state, n)
	clear(state)
	next := resize(o.count, n)
	clear(next)
	var post []int32
	stack := append(o.stack[:0], root)
	state[root] = 1
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		b := &o.b[i]
		var succ [2]int32
		ns := 0
		switch {
		case b.isLeaf():
		case b.straight():
			succ[0], ns = resolve(b.jt), 1
		default:
			succ[0], succ[1], ns = resolve(b.jf), resolve(b.jt), 2
		}
		if int(next[i]) < ns {
			c := succ[next[i]]
			next[i]++
			if state[c] == 0 {
				state[c], next[c] = 1, 0
				stack = append(stack, c)
			}
			continue
		}
		stack = stack[:len(stack)-1]
		post = append(post, i)
	}
	place := make([]int32, len(post))
	for j, i := range post {
		place[len(post)-1-j] = i
	}
	pos := resize(o.finish, n) // position of each placed block
	long := make([]uint8, n)   // bit 0: jt needs a ja, bit 1: jf
	o.iter, o.state, o.count, o.stack, o.finish = fwd, state, next, stack, pos
	fallsInto := func(j int) bool { // the block at j goes on to the block after it
		b := &o.b[place[j]]
		return j+1 < len(place) && b.straight() && resolve(b.jt) == place[j+1]
	}
	for pass := 0; ; pass++ {
		if pass > n+8 {
			return nil, fmt.Errorf("%w: layout does not converge", ErrInvalid)
		}
		at := int32(0)
		for j, i := range place {
			b := &o.b[i]
			pos[i] = at
			at += int32(liveStmts(b.stmts))
			switch {
			case b.isLeaf():
				at++
			case b.straight():
				if !fallsInto(j) {
					at++
				}
			default:
				at += 1 + int32(long[i]&1) + int32(long[i]>>1)
			}
		}
		grew := false
		for _, i := range place {
			b := &o.b[i]
			if b.isLeaf() || b.straight() {
				continue
			}
			from := pos[i] + int32(liveStmts(b.stmts))
			if long[i]&1 == 0 && pos[resolve(b.jt)]-from-1 > 255 {
				long[i] |= 1
				grew = true
			}
			if long[i]&2 == 0 && pos[resolve(b.jf)]-from-1 > 255 {
				long[i] |= 2
				grew = true
			}
		}
		if grew {
			continue
		}
		out := make([]bpf.RawInstruction, 0, at)
		for j, i := range place {
			b := &o.b[i]
			for _, s := range b.stmts {
				if s.Op != nop {
					out = append(out, s)
				}
			}
			here := int32(len(out))
			switch {
			case b.isLeaf():
				out = append(out, bpf.RawInstruction{Op: b.op, K: b.k})
			case b.straight():
				if !fallsInto(j) {
					out = append(out, bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(pos[resolve(b.jt)] - here - 1)})
				}
			default:
				ins := bpf.RawInstruction{Op: b.op, K: b.k}
				extra := int32(0)
				var jas [2]bpf.RawInstruction
				for s, t := range [2]int32{resolve(b.jt), resolve(b.jf)} {
					off := pos[t] - here - 1
					if long[i]&(1<<s) != 0 {
						jas[extra] = bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(off - extra - 1)}
						off = extra
						extra++
					}
					if off < 0 || off > 255 {
						return nil, fmt.Errorf("%w: branch of %d in layout", ErrInvalid, off)
					}
					if s == 0 {
						ins.Jt = uint8(off)
					} else {
						ins.Jf = uint8(off)
					}
				}
				out = append(out, ins)
				out = append(out, jas[:extra]...)
			}
		}
		if int32(len(out)) != at {
			return nil, fmt.Errorf("%w: layout size mismatch", ErrInvalid)
		}
		return out, nil
	}
}
