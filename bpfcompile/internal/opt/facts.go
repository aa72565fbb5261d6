package opt

import (
	"math/bits"
	"slices"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// fact is what the branches taken so far tell about one value: it lies
// in [lo, hi], has the bits of one set and those of zero clear, differs
// from every value in neq (sorted, no duplicates), and has at least one bit
// set of every mask in any.
type fact struct {
	vn     vnum
	lo, hi uint32
	one    uint32
	zero   uint32
	neq    []uint32
	any    []uint32
}

// union returns the sorted union of the sorted lists a and b (one of
// them when the other is empty: lists are never changed in place).
func union(a, b []uint32) []uint32 {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0:
		return a
	}
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// same reports whether two facts say the same.
func (f *fact) same(g *fact) bool {
	return f.vn == g.vn && f.lo == g.lo && f.hi == g.hi && f.one == g.one && f.zero == g.zero &&
		slices.Equal(f.neq, g.neq) && slices.Equal(f.any, g.any)
}

// intrinsic returns what the definition of vn alone says about it.
func (t *values) intrinsic(vn vnum) fact {
	f := fact{vn: vn, hi: 0xffffffff}
	if vn <= 0 || int(vn) >= len(t.vals) {
		return f
	}
	v := t.vals[vn]
	switch v.kind {
	case kindConst:
		f.lo, f.hi, f.one, f.zero = v.k, v.k, v.k, ^v.k
	case kindAbs, kindInd, kindExt:
		switch v.size {
		case 1:
			f.hi = 0xff
		case 2:
			f.hi = 0xffff
		}
		f.zero = ^f.hi
	case kindMsh:
		f.hi, f.zero = 60, ^uint32(0x3c)
	case kindALU:
		if k, ok := t.isConst(v.b); ok {
			switch v.k {
			case cbpf.AND:
				f.hi, f.zero = k, ^k
			case cbpf.RSH:
				if k < 32 {
					f.hi = 0xffffffff >> k
					f.zero = ^f.hi
				}
			case cbpf.OR:
				f.one, f.lo = k, k
			case cbpf.LSH:
				if k < 32 {
					f.zero = 1<<k - 1
				}
			case cbpf.MOD:
				if k != 0 {
					f.hi = k - 1
				}
			}
		}
	}
	return f
}

// meet combines two facts about the same value that both hold.
func (f fact) meet(g fact) fact {
	f.lo, f.hi = max(f.lo, g.lo), min(f.hi, g.hi)
	f.one |= g.one
	f.zero |= g.zero
	// Facts never change the lists they hold (they append to clipped
	// slices), so one list can serve two facts.
	f.neq = union(f.neq, g.neq)
	switch {
	case len(f.any) == 0:
		f.any = g.any
	case len(g.any) > 0:
		f.any = append(slices.Clip(f.any), g.any...)
	}
	return f
}

// excludes reports whether the fact rules out the value c.
func (f *fact) excludes(c uint32) bool {
	lo, hi := max(f.lo, f.one), min(f.hi, ^f.zero)
	if c < lo || c > hi || c&f.zero != 0 || c&f.one != f.one {
		return true
	}
	for _, m := range f.any {
		if c&m == 0 {
			return true
		}
	}
	_, found := slices.BinarySearch(f.neq, c)
	return found
}

// decide returns the outcome of the conditional jump op with constant k on
// a value the fact describes, when the fact settles it.
func (f *fact) decide(op uint16, k uint32) (result, known bool) {
	lo, hi := max(f.lo, f.one), min(f.hi, ^f.zero)
	if lo > hi || f.one&f.zero != 0 {
		return false, false // contradictory: an unreachable path, leave it
	}
	switch op & 0xf0 {
	case cbpf.JEQ:
		if lo == hi {
			return lo == k, true
		}
		if f.excludes(k) {
			return false, true
		}
	case cbpf.JGT:
		if lo > k {
			return true, true
		}
		if hi <= k {
			return false, true
		}
	case cbpf.JGE:
		if lo >= k {
			return true, true
		}
		if hi < k {
			return false, true
		}
	case cbpf.JSET:
		if k&f.one != 0 {
			return true, true
		}
		if k&^f.zero == 0 {
			return false, true
		}
		for _, m := range f.any {
			if m&^k == 0 {
				return true, true
			}
		}
	}
	return false, false
}

// assume narrows the fact by the outcome of a conditional jump.
func (f *fact) assume(op uint16, k uint32, result bool) {
	switch op & 0xf0 {
	case cbpf.JEQ:
		if result {
			f.lo, f.hi = max(f.lo, k), min(f.hi, k)
			f.one |= k
			f.zero |= ^k
		} else if i, found := slices.BinarySearch(f.neq, k); !found {
			f.neq = slices.Insert(slices.Clip(f.neq), i, k)
		}
	case cbpf.JGT:
		if result {
			if k == 0xffffffff {
				f.lo, f.hi = 1, 0 // impossible
			} else {
				f.lo = max(f.lo, k+1)
			}
		} else {
			f.hi = min(f.hi, k)
		}
	case cbpf.JGE:
		if result {
			f.lo = max(f.lo, k)
		} else if k == 0 {
			f.lo, f.hi = 1, 0
		} else {
			f.hi = min(f.hi, k-1)
		}
	case cbpf.JSET:
		if !result {
			f.zero |= k
		} else if bits.OnesCount32(k) == 1 {
			f.one |= k
		} else if !slices.Contains(f.any, k) {
			f.any = append(slices.Clip(f.any), k)
		}
	}
}

// join keeps what holds on both of two paths.
func (f fact) join(g fact) (fact, bool) {
	r := fact{vn: f.vn, lo: min(f.lo, g.lo), hi: max(f.hi, g.hi), one: f.one & g.one, zero: f.zero & g.zero}
	var fromF, fromG []uint32
	for _, c := range f.neq {
		if g.excludes(c) {
			fromF = append(fromF, c)
		}
	}
	for _, c := range g.neq {
		if f.excludes(c) {
			fromG = append(fromG, c)
		}
	}
	r.neq = union(fromF, fromG)
	for _, m := range f.any {
		if res, ok := g.decide(cbpf.JSET, m); ok && res {
			r.any = append(r.any, m)
		}
	}
	for _, m := range g.any {
		if res, ok := f.decide(cbpf.JSET, m); ok && res && !slices.Contains(r.any, m) {
			r.any = append(r.any, m)
		}
	}
	trivial := r.lo == 0 && r.hi == 0xffffffff && r.one == 0 && r.zero == 0 && len(r.neq) == 0 && len(r.any) == 0
	return r, !trivial
}

// joinFacts keeps the facts that hold on both paths.
func joinFacts(t *values, a, b factSet) factSet {
	t.work += a.len() + b.len()
	fa := a.appendTo(t.joinBuf[0][:0])
	fb := b.appendTo(t.joinBuf[1][:0])
	out := t.joinBuf[2][:0]
	i, j := 0, 0
	for i < len(fa) && j < len(fb) {
		switch {
		case fa[i].vn < fb[j].vn:
			i++
		case fa[i].vn > fb[j].vn:
			j++
		default:
			// Joining lists compares every element with the other list.
			t.work += len(fa[i].neq) + len(fb[j].neq) + (len(fa[i].any)+1)*(len(fb[j].any)+1)
			in := t.intrinsic(fa[i].vn)
			if f, ok := fa[i].meet(in).join(fb[j].meet(in)); ok {
				out = append(out, f)
			}
			i++
			j++
		}
	}
	t.joinBuf = [3][]fact{fa, fb, out}
	return factSetFromSorted(out)
}

// decide settles the conditional jump op k on vn from its definition and
// the facts, when they do.
func (t *values) decide(fs factSet, vn vnum, op uint16, k uint32) (result, known bool) {
	if c, ok := t.isConst(vn); ok {
		return evalCond(op, c, k), true
	}
	f := t.intrinsic(vn)
	if g := fs.get(vn); g != nil {
		f = f.meet(*g)
	}
	t.work += 1 + len(f.any)
	return f.decide(op, k)
}

// evalCond evaluates a conditional jump on A = a.
func evalCond(op uint16, a, k uint32) bool {
	switch op & 0xf0 {
	case cbpf.JEQ:
		return a == k
	case cbpf.JGT:
		return a > k
	case cbpf.JGE:
		return a >= k
	}
	return a&k != 0
}
