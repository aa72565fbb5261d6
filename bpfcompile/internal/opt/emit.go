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
	bs, order := o.b, o.order
	canon := o.iter[:len(bs)]
	for i := range canon {
		canon[i] = int32(i)
	}
	table := o.table
	clear(table)
	mask := uint64(len(table) - 1)
	// Bottom up, the successors made canonical first: blocks that do the
	// same once their successors are merged meet in the table, so one
	// pass merges all there is to merge.
	for j := len(order) - 1; j >= 0; j-- {
		i := order[j]
		b := &bs[i]
		o.work += len(b.stmts) + 1
		if b.jt >= 0 {
			b.jt = canon[b.jt]
			if b.op != opJA { // (a ja's jf is unused)
				b.jf = canon[b.jf]
			}
		}
		h := b.hash() & mask
		for table[h] != 0 && !b.same(&bs[table[h]-1]) {
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
	bs := o.b
	n := len(bs)
	// Bypass straight blocks without statements, bottom up (o.order is
	// the order mergeSame walked: every block reachable before it); and
	// count each block's statements.
	fwd, live := o.iter[:n], o.kids[:n]
	order := o.order
	for j := len(order) - 1; j >= 0; j-- {
		i := order[j]
		b := &bs[i]
		l := int32(liveStmts(b.stmts))
		live[i], fwd[i] = l, i
		if l == 0 && b.straight() {
			fwd[i] = fwd[b.jt]
		}
	}
	place := o.placeBlocks(fwd[o.root], fwd)
	// The size of each placed block and its position: a block that goes
	// on to the block after it needs no jump.
	pos := o.finish[:n]
	at := int32(0)
	for j, i := range place {
		b := &bs[i]
		pos[i] = at
		at += live[i] + 1
		if b.straight() && j+1 < len(place) && fwd[b.jt] == place[j+1] {
			at--
		}
	}
	long := o.long[:n] // bit 0: jt needs a ja, bit 1: jf
	clear(long)
	if at > 256 {
		// A branch may skip more than 255 instructions (in a shorter
		// program none can): those get a ja, which moves what follows.
		var err error
		if at, err = o.longJumps(place, fwd, live, pos, long); err != nil {
			return nil, err
		}
	}
	out := make([]bpf.RawInstruction, at)
	k := 0
	for j, i := range place {
		b := &bs[i]
		for _, s := range b.stmts {
			if s.Op != nop {
				out[k] = s
				k++
			}
		}
		here := int32(k)
		switch {
		case b.isLeaf():
			out[k] = bpf.RawInstruction{Op: b.op, K: b.k}
			k++
		case b.straight():
			if t := fwd[b.jt]; j+1 == len(place) || t != place[j+1] {
				out[k] = bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(pos[t] - here - 1)}
				k++
			}
		default:
			offT, offF := pos[fwd[b.jt]]-here-1, pos[fwd[b.jf]]-here-1
			// Through a ja after the branch where it is too far (a ja
			// per branch, the true one's first).
			var jas [2]bpf.RawInstruction
			extra := int32(0)
			if l := long[i]; l != 0 {
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
			}
			if offT < 0 || offT > 255 || offF < 0 || offF > 255 {
				return nil, fmt.Errorf("%w: branch of %d, %d in layout", ErrInvalid, offT, offF)
			}
			out[k] = bpf.RawInstruction{Op: b.op, K: b.k, Jt: uint8(offT), Jf: uint8(offF)}
			k++
			if extra > 0 {
				k += copy(out[k:], jas[:extra])
			}
		}
	}
	if k != len(out) {
		return nil, fmt.Errorf("%w: layout size mismatch", ErrInvalid)
	}
	return out, nil
}

// placeBlocks returns the blocks reachable from root (through fwd) in the
// order libpcap lays them out: a walk that takes the false successor,
// then the true one, then places the block, reversed.
func (o *optimizer) placeBlocks(root int32, fwd []int32) []int32 {
	bs := o.b
	n := len(bs)
	seen := o.state[:n]
	clear(seen)
	next := o.count[:n] // the successors walked
	clear(next)
	post := o.pull[:n]
	np := 0
	stack := o.stack[:n] // every block is pushed once at most
	// i is the block at the top of the stack, stack[top].
	i, top := root, 0
	stack[0], seen[root] = root, 1
	for {
		b := &bs[i]
		c := int32(-1)
		switch k := next[i]; {
		case b.isLeaf():
		case b.straight():
			if k == 0 {
				c = fwd[b.jt]
			}
		case k == 0:
			c = fwd[b.jf]
		case k == 1:
			c = fwd[b.jt]
		}
		if c >= 0 {
			next[i]++
			if seen[c] == 0 {
				seen[c] = 1
				top++
				stack[top], i = c, c
			}
			continue
		}
		post[np] = i
		np++
		if top == 0 {
			break
		}
		top--
		i = stack[top]
	}
	place := o.pull2[:np]
	for j, i := range post[:np] {
		place[np-1-j] = i
	}
	return place
}

// longJumps marks the branches of place that need a ja (long: bit 0 the
// true one's, bit 1 the false one's) and sets pos to the positions then,
// until no branch skips more than 255 instructions; it returns the size
// of the program.
func (o *optimizer) longJumps(place, fwd, live, pos []int32, long []uint8) (int32, error) {
	bs := o.b
	n := len(bs)
	for pass := 0; ; pass++ {
		if pass > n+8 {
			return 0, fmt.Errorf("%w: layout does not converge", ErrInvalid)
		}
		at := int32(0)
		for j, i := range place {
			b := &bs[i]
			pos[i] = at
			at += live[i]
			switch {
			case b.isLeaf():
				at++
			case b.straight():
				if j+1 == len(place) || fwd[b.jt] != place[j+1] {
					at++
				}
			default:
				at += 1 + int32(long[i]&1) + int32(long[i]>>1)
			}
		}
		grew := false
		for _, i := range place {
			b := &bs[i]
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
		if !grew {
			return at, nil
		}
	}
}
