package opt

import (
	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// Value numbers name the values a program computes. Two equal value numbers
// hold equal values on every run: packet bytes do not change while a
// program runs, and the graph has no loops, so a block's entry values are
// defined once per run.
type vnum = int32

// Value kinds.
const (
	vnUninit vnum = 0 // a scratch slot never stored to
	vnZero   vnum = 1 // constant 0 (registers start at 0)
)

const (
	kindConst = iota + 1 // k
	kindAbs              // packet[k:k+size]
	kindInd              // packet[X(a)+k : ...+size]
	kindMsh              // 4*(packet[k]&0xf)
	kindLen              // packet length
	kindExt              // ancillary load at k of size
	kindALU              // a <op k> b
	kindNeg              // -a
	kindPhi              // register size at the entry of block k
	kindUniq             // a value equal to nothing else (k counts)
)

type value struct {
	kind uint8
	size uint8
	k    uint32
	a, b vnum
}

// values hash-conses values into value numbers. It also counts the
// optimizer's work (instructions and edges evaluated) against a budget.
type values struct {
	vals  []value
	index []vnum // open addressing over vals; 0 marks a free slot (vnUninit is not in it)
	uniq  uint32
	phis  [][regM + 16]vnum // phi value numbers by block, 0 until made
	spare *analysis         // memory for the next analysis

	joinBuf      [3][]fact // joinFacts's scratch space
	scratchFacts [2][]fact // edge states to join
	walkFacts    []fact    // threadTarget's state

	work     int // units of work done
	budget   int // work allowed; 0: unbounded
	rounds   int // rounds of passes begun
	analyses int // whole-graph analyses done
}

func newValues() *values {
	v := &values{index: make([]vnum, 64)}
	v.vals = append(v.vals, value{}) // vnUninit
	v.num(value{kind: kindConst})    // vnZero
	return v
}

// hash mixes the fields of v into a number spread over all bits.
func (v *value) hash() uint64 {
	h := uint64(v.kind)<<8 | uint64(v.size) | uint64(v.k)<<32
	h ^= (uint64(uint32(v.a)) | uint64(uint32(v.b))<<32) * 0x9e3779b97f4a7c15
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>31
}

// spent reports whether the work budget is used up.
func (t *values) spent() bool { return t.budget > 0 && t.work > t.budget }

func (t *values) num(v value) vnum {
	mask := uint64(len(t.index) - 1)
	i := v.hash() & mask
	for {
		n := t.index[i]
		if n == 0 {
			break
		}
		if t.vals[n] == v {
			return n
		}
		i = (i + 1) & mask
	}
	n := vnum(len(t.vals))
	t.vals = append(t.vals, v)
	t.index[i] = n
	if 2*len(t.vals) > len(t.index) {
		t.rehash()
	}
	return n
}

// rehash doubles the index.
func (t *values) rehash() {
	t.index = make([]vnum, 2*len(t.index))
	mask := uint64(len(t.index) - 1)
	for n := 1; n < len(t.vals); n++ {
		i := t.vals[n].hash() & mask
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = vnum(n)
	}
}

func (t *values) constant(k uint32) vnum { return t.num(value{kind: kindConst, k: k}) }

func (t *values) unique() vnum {
	t.uniq++
	return t.num(value{kind: kindUniq, k: t.uniq})
}

// isConst returns the value of a constant value number.
func (t *values) isConst(n vnum) (uint32, bool) {
	if n <= 0 || int(n) >= len(t.vals) {
		return 0, false
	}
	v := t.vals[n]
	return v.k, v.kind == kindConst
}

// ancillary loads whose value depends on nothing but the packet and its
// metadata; others (random, netlink attributes that read A and X) are
// unique values.
func pureAncillary(off uint32) bool {
	switch off {
	case 0, 4, 8, 20, 24, 28, 32, 36, 44, 48, 52, 60:
		return true
	}
	return false
}

// alu returns the value number of a <op> b, folding constants and
// identities. It never folds what could trap (division by zero) or what
// VMs disagree on (shifts by 32 or more).
func (t *values) alu(op uint32, a, b vnum) vnum {
	ka, ca := t.isConst(a)
	kb, cb := t.isConst(b)
	if ca && cb {
		if r, ok := fold(op, ka, kb); ok {
			return t.constant(r)
		}
	}
	if cb {
		switch {
		case kb == 0 && (op == cbpf.ADD || op == cbpf.SUB || op == cbpf.OR || op == cbpf.XOR || op == cbpf.LSH || op == cbpf.RSH):
			return a
		case kb == 1 && (op == cbpf.MUL || op == cbpf.DIV):
			return a
		case kb == 0xffffffff && op == cbpf.AND:
			return a
		case kb == 0 && (op == cbpf.MUL || op == cbpf.AND):
			return t.constant(0)
		case kb == 1 && op == cbpf.MOD:
			return t.constant(0)
		}
	}
	if ca {
		switch {
		case ka == 0 && (op == cbpf.ADD || op == cbpf.OR || op == cbpf.XOR):
			return b
		case ka == 1 && op == cbpf.MUL:
			return b
		case ka == 0xffffffff && op == cbpf.AND:
			return b
		case ka == 0 && (op == cbpf.MUL || op == cbpf.AND):
			return t.constant(0)
		}
	}
	switch op {
	case cbpf.ADD, cbpf.MUL, cbpf.AND, cbpf.OR, cbpf.XOR:
		if a > b {
			a, b = b, a
		}
	}
	// Fold (a op k1) op k2 for associative ops with constants.
	if cb {
		if av := t.vals[a]; av.kind == kindALU && av.k == op {
			if k1, ok := t.isConst(av.b); ok {
				switch op {
				case cbpf.ADD, cbpf.MUL, cbpf.AND, cbpf.OR, cbpf.XOR:
					r, _ := fold(op, k1, kb)
					return t.alu(op, av.a, t.constant(r))
				}
			}
		}
		if op == cbpf.SUB {
			return t.alu(cbpf.ADD, a, t.constant(-kb))
		}
	}
	return t.num(value{kind: kindALU, k: op, a: a, b: b})
}

// fold computes a <op> b when that is well defined everywhere.
func fold(op uint32, a, b uint32) (uint32, bool) {
	switch op {
	case cbpf.ADD:
		return a + b, true
	case cbpf.SUB:
		return a - b, true
	case cbpf.MUL:
		return a * b, true
	case cbpf.DIV:
		if b == 0 {
			return 0, false
		}
		return a / b, true
	case cbpf.MOD:
		if b == 0 {
			return 0, false
		}
		return a % b, true
	case cbpf.AND:
		return a & b, true
	case cbpf.OR:
		return a | b, true
	case cbpf.XOR:
		return a ^ b, true
	case cbpf.LSH:
		if b >= 32 {
			return 0, false
		}
		return a << b, true
	case cbpf.RSH:
		if b >= 32 {
			return 0, false
		}
		return a >> b, true
	}
	return 0, false
}

// loadSize returns the bytes a load instruction reads.
func loadSize(op uint16) uint8 {
	switch op & 0x18 {
	case cbpf.W:
		return 4
	case cbpf.H:
		return 2
	case cbpf.B:
		return 1
	}
	return 0
}

// phi returns the value number of register r at the entry of block bi
// where paths bring different values.
func (t *values) phi(bi, r int) vnum {
	for len(t.phis) <= bi {
		t.phis = append(t.phis, [regM + 16]vnum{})
	}
	if v := t.phis[bi][r]; v != 0 {
		return v
	}
	v := t.num(value{kind: kindPhi, size: uint8(r), k: uint32(bi)})
	t.phis[bi][r] = v
	return v
}

// registers holds the value numbers in A, X and the scratch slots.
type registers struct {
	a, x vnum
	m    [16]vnum
}

// Register indexes for liveness and phi values: A, X, then M[0..15].
const (
	regA = 0
	regX = 1
	regM = 2
)

func (r *registers) get(i int) vnum {
	switch i {
	case regA:
		return r.a
	case regX:
		return r.x
	}
	return r.m[i-regM]
}

func (r *registers) set(i int, v vnum) {
	switch i {
	case regA:
		r.a = v
	case regX:
		r.x = v
	default:
		r.m[i-regM] = v
	}
}

// effect describes one instruction: the register it writes and the
// value it writes there, the registers it reads, and what it may fail on.
type effect struct {
	dst  int  // register written, -1 for none
	val  vnum // value written
	uses uint32
	// A load that may run off the packet (or lacks metadata): the program
	// then returns 0.
	load      bool
	loadVal   vnum   // the value loaded (for availability)
	loadEnd   uint64 // packet bytes the load needs, when absolute (0: unknown)
	mayTrap   bool   // division or modulo by a zero X
	badScrach bool   // reads a scratch slot never stored to
}

// effect evaluates ri on the values in r without changing r.
func (t *values) effect(ri bpf.RawInstruction, r *registers) effect {
	e := effect{dst: -1}
	size := loadSize(ri.Op)
	switch ri.Op & 0x07 {
	case cbpf.LD, cbpf.LDX:
		e.dst = regA
		if ri.Op&0x07 == cbpf.LDX {
			e.dst = regX
		}
		switch ri.Op & 0xe0 {
		case cbpf.IMM:
			e.val = t.constant(ri.K)
		case cbpf.MEM:
			e.uses = 1 << (regM + ri.K)
			e.val = r.m[ri.K]
			e.badScrach = e.val == vnUninit
		case cbpf.LEN:
			e.val = t.num(value{kind: kindLen})
		case cbpf.ABS:
			e.load = true
			if ri.K >= cbpf.AncillaryBase {
				off := ri.K - cbpf.AncillaryBase
				if pureAncillary(off) {
					e.val = t.num(value{kind: kindExt, size: size, k: ri.K})
				} else {
					e.val = t.unique()
					e.uses = 1<<regA | 1<<regX
				}
			} else {
				e.val = t.num(value{kind: kindAbs, size: size, k: ri.K})
				e.loadEnd = uint64(ri.K) + uint64(size)
			}
		case cbpf.IND:
			e.load = true
			e.uses = 1 << regX
			if c, ok := t.isConst(r.x); ok && uint64(c)+uint64(ri.K) < cbpf.AncillaryBase {
				// Same bytes as the absolute load.
				e.val = t.num(value{kind: kindAbs, size: size, k: c + ri.K})
				e.loadEnd = uint64(c) + uint64(ri.K) + uint64(size)
			} else {
				e.val = t.num(value{kind: kindInd, size: size, k: ri.K, a: r.x})
			}
		case cbpf.MSH:
			e.load = true
			e.val = t.num(value{kind: kindMsh, k: ri.K})
			e.loadEnd = uint64(ri.K) + 1
		}
		e.loadVal = e.val
	case cbpf.ST:
		e.dst, e.val, e.uses = regM+int(ri.K), r.a, 1<<regA
	case cbpf.STX:
		e.dst, e.val, e.uses = regM+int(ri.K), r.x, 1<<regX
	case cbpf.ALU:
		e.dst = regA
		e.uses = 1 << regA
		op := uint32(ri.Op & 0xf0)
		if op == cbpf.NEG {
			if c, ok := t.isConst(r.a); ok {
				e.val = t.constant(-c)
			} else {
				e.val = t.num(value{kind: kindNeg, a: r.a})
			}
			break
		}
		b := t.constant(ri.K)
		if ri.Op&cbpf.X != 0 {
			e.uses |= 1 << regX
			b = r.x
		}
		if op == cbpf.DIV || op == cbpf.MOD {
			if k, ok := t.isConst(b); !ok || k == 0 {
				e.mayTrap = true
			}
		}
		if e.mayTrap {
			// The result is only meaningful when the division happens.
			e.val = t.num(value{kind: kindALU, k: op, a: r.a, b: b})
		} else {
			e.val = t.alu(op, r.a, b)
		}
	case cbpf.MISC:
		if ri.Op == cbpf.MISC|cbpf.TAX {
			e.dst, e.val, e.uses = regX, r.a, 1<<regA
		} else {
			e.dst, e.val, e.uses = regA, r.x, 1<<regX
		}
	}
	return e
}
