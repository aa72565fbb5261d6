package opt

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// mergeSame merges blocks that do the same (the same statements, test and
// successors).
func (o *optimizer) mergeSame() {
	if !o.fresh || o.shape != o.analyzed {
		o.levelOrder()
	}
	canon := o.iter
	for i := range canon {
		canon[i] = int32(i)
	}
	table := o.table
	clear(table)
	mask := uint64(len(table) - 1)
	// Bottom up, the successors made canonical first: blocks that do the
	// same once their successors are merged meet in the table, so one
	// pass merges all there is to merge.
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
			continue
		}
		table[h] = i + 1
	}
	o.root = canon[o.root]
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
	// Bypass straight blocks without statements, bottom up (o.order is
	// the order mergeSame walked: every block reachable before it); and
	// count each block's statements.
	fwd, live := o.iter, o.kids[:n]
	for j := len(o.order) - 1; j >= 0; j-- {
		i := o.order[j]
		b := &o.b[i]
		live[i] = int32(liveStmts(b.stmts))
		fwd[i] = i
		if b.straight() && live[i] == 0 {
			fwd[i] = fwd[b.jt]
		}
	}
	root := fwd[o.root]
	// Placement: walk the false successor, then the true one, then place
	// the block; the placement is the reverse.
	state := o.state
	clear(state)
	next := o.count[:n]
	clear(next)
	post := o.pull[:0]
	stack := append(o.stack[:0], root)
	state[root] = 1
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		b := &o.b[i]
		var c int32 = -1
		switch {
		case b.isLeaf():
		case b.straight():
			if next[i] == 0 {
				c = fwd[b.jt]
			}
		case next[i] == 0:
			c = fwd[b.jf]
		case next[i] == 1:
			c = fwd[b.jt]
		}
		if c >= 0 {
			next[i]++
			if state[c] == 0 {
				state[c] = 1
				stack = append(stack, c)
			}
			continue
		}
		stack = stack[:len(stack)-1]
		post = append(post, i)
	}
	place := o.pull2[:len(post)]
	for j, i := range post {
		place[len(post)-1-j] = i
	}
	o.stack = stack
	pos := o.finish[:n] // position of each placed block
	long := o.long[:n]  // bit 0: jt needs a ja, bit 1: jf
	clear(long)
	fallsInto := func(j int) bool { // the block at j goes on to the block after it
		b := &o.b[place[j]]
		return j+1 < len(place) && b.straight() && fwd[b.jt] == place[j+1]
	}
	for pass := 0; ; pass++ {
		if pass > n+8 {
			return nil, fmt.Errorf("%w: layout does not converge", ErrInvalid)
		}
		at := int32(0)
		for j, i := range place {
			b := &o.b[i]
			pos[i] = at
			at += live[i]
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
			from := pos[i] + live[i]
			if long[i]&1 == 0 && pos[fwd[b.jt]]-from-1 > 255 {
				long[i] |= 1
				grew = true
			}
			if long[i]&2 == 0 && pos[fwd[b.jf]]-from-1 > 255 {
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
					out = append(out, bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(pos[fwd[b.jt]] - here - 1)})
				}
			default:
				offT, offF := pos[fwd[b.jt]]-here-1, pos[fwd[b.jf]]-here-1
				if l := long[i]; l != 0 {
					// Through a ja after the branch (a ja per branch, the
					// true one's first).
					var jas [2]bpf.RawInstruction
					extra := int32(0)
					if l&1 != 0 {
						jas[extra] = bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(offT - extra - 1)}
						offT = extra
						extra++
					}
					if l&2 != 0 {
						jas[extra] = bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(offF - extra - 1)}
						offF = extra
						extra++
					}
					if offT < 0 || offT > 255 || offF < 0 || offF > 255 {
						return nil, fmt.Errorf("%w: branch of %d, %d in layout", ErrInvalid, offT, offF)
					}
					out = append(out, bpf.RawInstruction{Op: b.op, K: b.k, Jt: uint8(offT), Jf: uint8(offF)})
					out = append(out, jas[:extra]...)
					continue
				}
				if offT < 0 || offT > 255 || offF < 0 || offF > 255 {
					return nil, fmt.Errorf("%w: branch of %d, %d in layout", ErrInvalid, offT, offF)
				}
				out = append(out, bpf.RawInstruction{Op: b.op, K: b.k, Jt: uint8(offT), Jf: uint8(offF)})
			}
		}
		if int32(len(out)) != at {
			return nil, fmt.Errorf("%w: layout size mismatch", ErrInvalid)
		}
		return out, nil
	}
}
