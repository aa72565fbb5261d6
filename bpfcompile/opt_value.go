package bpfcompile

import "golang.org/x/net/bpf"

// Value numbers name the values a program computes. Two equal value numbers
// hold equal values on every run: packet bytes do not change while a
// program runs, and the graph has no loops, so a block's entry values are
// defined once per run.
type optVN = int32

// Value kinds.
const (
	optVUninit optVN = 0 // a scratch slot never stored to
	optVZero   optVN = 1 // constant 0 (registers start at 0)
)

const (
	optKConst = iota + 1 // k
	optKAbs              // packet[k:k+size]
	optKInd              // packet[X(a)+k : ...+size]
	optKMsh              // 4*(packet[k]&0xf)
	optKLen              // packet length
	optKExt              // ancillary load at k of size
	optKALU              // a <op k> b
	optKNeg              // -a
	optKPhi              // register size at the entry of block k
	optKUniq             // a value equal to nothing else (k counts)
)

type optVal struct {
	kind uint8
	size uint8
	k    uint32
	a, b optVN
}

// optValues hash-conses values into value numbers. It also counts the
// optimizer's work (instructions and edges evaluated) against a budget.
type optValues struct {
	vals  []optVal
	index []optVN // open addressing over vals; 0 marks a free slot (optVUninit is not in it)
	uniq  uint32
	phis  [][optRegM + 16]optVN // phi value numbers by block, 0 until made
	spare *optAnalysis          // memory for the next analysis

	joinBuf      [3][]optFact // joinFacts's scratch space
	scratchFacts [2][]optFact // edge states to join
	walkFacts    []optFact    // threadTarget's state

	work     int // units of work done
	budget   int // work allowed; 0: unbounded
	rounds   int // rounds of passes begun
	analyses int // whole-graph analyses done
}

func newOptValues() *optValues {
	v := &optValues{index: make([]optVN, 64)}
	v.vals = append(v.vals, optVal{}) // optVUninit
	v.num(optVal{kind: optKConst})    // optVZero
	return v
}

// hash mixes the fields of v into a number spread over all bits.
func (v *optVal) hash() uint64 {
	h := uint64(v.kind)<<8 | uint64(v.size) | uint64(v.k)<<32
	h ^= (uint64(uint32(v.a)) | uint64(uint32(v.b))<<32) * 0x9e3779b97f4a7c15
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>31
}

// spent reports whether the work budget is used up.
func (t *optValues) spent() bool { return t.budget > 0 && t.work > t.budget }

func (t *optValues) num(v optVal) optVN {
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
	n := optVN(len(t.vals))
	t.vals = append(t.vals, v)
	t.index[i] = n
	if 2*len(t.vals) > len(t.index) {
		t.rehash()
	}
	return n
}

// rehash doubles the index.
func (t *optValues) rehash() {
	t.index = make([]optVN, 2*len(t.index))
	mask := uint64(len(t.index) - 1)
	for n := 1; n < len(t.vals); n++ {
		i := t.vals[n].hash() & mask
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = optVN(n)
	}
}

func (t *optValues) constant(k uint32) optVN { return t.num(optVal{kind: optKConst, k: k}) }

func (t *optValues) unique() optVN {
	t.uniq++
	return t.num(optVal{kind: optKUniq, k: t.uniq})
}

// isConst returns the value of a constant value number.
func (t *optValues) isConst(n optVN) (uint32, bool) {
	if n <= 0 || int(n) >= len(t.vals) {
		return 0, false
	}
	v := t.vals[n]
	return v.k, v.kind == optKConst
}

// ancillary loads whose value depends on nothing but the packet and its
// metadata; others (random, netlink attributes that read A and X) are
// unique values.
func optPureAncillary(off uint32) bool {
	switch off {
	case 0, 4, 8, 20, 24, 28, 32, 36, 44, 48, 52, 60:
		return true
	}
	return false
}

// alu returns the value number of a <op> b, folding constants and
// identities. It never folds what could trap (division by zero) or what
// VMs disagree on (shifts by 32 or more).
func (t *optValues) alu(op uint32, a, b optVN) optVN {
	ka, ca := t.isConst(a)
	kb, cb := t.isConst(b)
	if ca && cb {
		if r, ok := optFold(op, ka, kb); ok {
			return t.constant(r)
		}
	}
	if cb {
		switch {
		case kb == 0 && (op == optALUAdd || op == optALUSub || op == optALUOr || op == optALUXor || op == optALULsh || op == optALURsh):
			return a
		case kb == 1 && (op == optALUMul || op == optALUDiv):
			return a
		case kb == 0xffffffff && op == optALUAnd:
			return a
		case kb == 0 && (op == optALUMul || op == optALUAnd):
			return t.constant(0)
		case kb == 1 && op == optALUMod:
			return t.constant(0)
		}
	}
	if ca {
		switch {
		case ka == 0 && (op == optALUAdd || op == optALUOr || op == optALUXor):
			return b
		case ka == 1 && op == optALUMul:
			return b
		case ka == 0xffffffff && op == optALUAnd:
			return b
		case ka == 0 && (op == optALUMul || op == optALUAnd):
			return t.constant(0)
		}
	}
	switch op {
	case optALUAdd, optALUMul, optALUAnd, optALUOr, optALUXor:
		if a > b {
			a, b = b, a
		}
	}
	// Fold (a op k1) op k2 for associative ops with constants.
	if cb {
		if av := t.vals[a]; av.kind == optKALU && av.k == op {
			if k1, ok := t.isConst(av.b); ok {
				switch op {
				case optALUAdd, optALUMul, optALUAnd, optALUOr, optALUXor:
					r, _ := optFold(op, k1, kb)
					return t.alu(op, av.a, t.constant(r))
				}
			}
		}
		if op == optALUSub {
			return t.alu(optALUAdd, a, t.constant(-kb))
		}
	}
	return t.num(optVal{kind: optKALU, k: op, a: a, b: b})
}

// optFold computes a <op> b when that is well defined everywhere.
func optFold(op uint32, a, b uint32) (uint32, bool) {
	switch op {
	case optALUAdd:
		return a + b, true
	case optALUSub:
		return a - b, true
	case optALUMul:
		return a * b, true
	case optALUDiv:
		if b == 0 {
			return 0, false
		}
		return a / b, true
	case optALUMod:
		if b == 0 {
			return 0, false
		}
		return a % b, true
	case optALUAnd:
		return a & b, true
	case optALUOr:
		return a | b, true
	case optALUXor:
		return a ^ b, true
	case optALULsh:
		if b >= 32 {
			return 0, false
		}
		return a << b, true
	case optALURsh:
		if b >= 32 {
			return 0, false
		}
		return a >> b, true
	}
	return 0, false
}

// optLoadSize returns the bytes a load instruction reads.
func optLoadSize(op uint16) uint8 {
	switch op & 0x18 {
	case optSizeW:
		return 4
	case optSizeH:
		return 2
	case optSizeB:
		return 1
	}
	return 0
}

// phi returns the value number of register r at the entry of block bi
// where paths bring different values.
func (t *optValues) phi(bi, r int) optVN {
	for len(t.phis) <= bi {
		t.phis = append(t.phis, [optRegM + 16]optVN{})
	}
	if v := t.phis[bi][r]; v != 0 {
		return v
	}
	v := t.num(optVal{kind: optKPhi, size: uint8(r), k: uint32(bi)})
	t.phis[bi][r] = v
	return v
}

// optRegs holds the value numbers in A, X and the scratch slots.
type optRegs struct {
	a, x optVN
	m    [16]optVN
}

// Register indexes for liveness and phi values: A, X, then M[0..15].
const (
	optRegA = 0
	optRegX = 1
	optRegM = 2
)

func (r *optRegs) get(i int) optVN {
	switch i {
	case optRegA:
		return r.a
	case optRegX:
		return r.x
	}
	return r.m[i-optRegM]
}

func (r *optRegs) set(i int, v optVN) {
	switch i {
	case optRegA:
		r.a = v
	case optRegX:
		r.x = v
	default:
		r.m[i-optRegM] = v
	}
}

// optEffect describes one instruction: the register it writes and the
// value it writes there, the registers it reads, and what it may fail on.
type optEffect struct {
	dst  int   // register written, -1 for none
	val  optVN // value written
	uses uint32
	// A load that may run off the packet (or lacks metadata): the program
	// then returns 0.
	load      bool
	loadVal   optVN  // the value loaded (for availability)
	loadEnd   uint64 // packet bytes the load needs, when absolute (0: unknown)
	mayTrap   bool   // division or modulo by a zero X
	badScrach bool   // reads a scratch slot never stored to
}

// effect evaluates ri on the values in r without changing r.
func (t *optValues) effect(ri bpf.RawInstruction, r *optRegs) optEffect {
	e := optEffect{dst: -1}
	size := optLoadSize(ri.Op)
	switch ri.Op & 0x07 {
	case optClsLD, optClsLDX:
		e.dst = optRegA
		if ri.Op&0x07 == optClsLDX {
			e.dst = optRegX
		}
		switch ri.Op & 0xe0 {
		case optModeIMM:
			e.val = t.constant(ri.K)
		case optModeMEM:
			e.uses = 1 << (optRegM + ri.K)
			e.val = r.m[ri.K]
			e.badScrach = e.val == optVUninit
		case optModeLEN:
			e.val = t.num(optVal{kind: optKLen})
		case optModeABS:
			e.load = true
			if ri.K >= ancillaryBase {
				off := ri.K - ancillaryBase
				if optPureAncillary(off) {
					e.val = t.num(optVal{kind: optKExt, size: size, k: ri.K})
				} else {
					e.val = t.unique()
					e.uses = 1<<optRegA | 1<<optRegX
				}
			} else {
				e.val = t.num(optVal{kind: optKAbs, size: size, k: ri.K})
				e.loadEnd = uint64(ri.K) + uint64(size)
			}
		case optModeIND:
			e.load = true
			e.uses = 1 << optRegX
			if c, ok := t.isConst(r.x); ok && uint64(c)+uint64(ri.K) < ancillaryBase {
				// Same bytes as the absolute load.
				e.val = t.num(optVal{kind: optKAbs, size: size, k: c + ri.K})
				e.loadEnd = uint64(c) + uint64(ri.K) + uint64(size)
			} else {
				e.val = t.num(optVal{kind: optKInd, size: size, k: ri.K, a: r.x})
			}
		case optModeMSH:
			e.load = true
			e.val = t.num(optVal{kind: optKMsh, k: ri.K})
			e.loadEnd = uint64(ri.K) + 1
		}
		e.loadVal = e.val
	case optClsST:
		e.dst, e.val, e.uses = optRegM+int(ri.K), r.a, 1<<optRegA
	case optClsSTX:
		e.dst, e.val, e.uses = optRegM+int(ri.K), r.x, 1<<optRegX
	case optClsALU:
		e.dst = optRegA
		e.uses = 1 << optRegA
		op := uint32(ri.Op & 0xf0)
		if op == optALUNeg {
			if c, ok := t.isConst(r.a); ok {
				e.val = t.constant(-c)
			} else {
				e.val = t.num(optVal{kind: optKNeg, a: r.a})
			}
			break
		}
		b := t.constant(ri.K)
		if ri.Op&optSrcX != 0 {
			e.uses |= 1 << optRegX
			b = r.x
		}
		if op == optALUDiv || op == optALUMod {
			if k, ok := t.isConst(b); !ok || k == 0 {
				e.mayTrap = true
			}
		}
		if e.mayTrap {
			// The result is only meaningful when the division happens.
			e.val = t.num(optVal{kind: optKALU, k: op, a: r.a, b: b})
		} else {
			e.val = t.alu(op, r.a, b)
		}
	case optClsMISC:
		if ri.Op == optTAX {
			e.dst, e.val, e.uses = optRegX, r.a, 1<<optRegA
		} else {
			e.dst, e.val, e.uses = optRegA, r.x, 1<<optRegX
		}
	}
	return e
}
