package opt

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// A value number names a value a program computes: two registers that hold
// the same value number hold the same value on every run. Numbers are
// made anew for every round of the optimizer. 0 is an unknown value (paths
// that bring different values meet, or a scratch slot never stored to).
type vnum = uint32

const unknown vnum = 0

// valueKey is what a value number stands for: the operation code and its
// operands (value numbers, or the constant k of loads).
type valueKey struct {
	code   uint16
	v0, v1 uint32
}

// constCode is the code of constants: v0 holds the constant.
const constCode = cbpf.LD | cbpf.IMM

// values hash-conses valueKeys into value numbers.
type values struct {
	keys  []valueKey // by value number; keys[0] unused
	index []uint32   // open addressing over keys; 0 marks a free slot
	uniq  uint32     // values equal to nothing else made so far
}

// reset forgets every value, keeping the memory (for optimizeRaw's full
// mode: the optimizer keeps its values from round to round).
func (t *values) reset() {
	t.keys = t.keys[:1]
	clear(t.index)
}

func (k *valueKey) hash() uint64 {
	h := uint64(k.code)<<48 ^ uint64(k.v0) ^ uint64(k.v1)<<24
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// num returns the value number of the operation code on v0 and v1.
// (Small enough to be inlined: the passes ask it for every statement.)
func (t *values) num(code uint16, v0, v1 uint32) vnum {
	k := valueKey{code, v0, v1}
	mask := uint64(len(t.index) - 1)
	for i := k.hash() & mask; ; i = (i + 1) & mask {
		n := t.index[i]
		if n == 0 {
			return t.add(k, i)
		}
		if t.keys[n] == k {
			return n
		}
	}
}

// add gives k, which is not in the table, a number, at free slot i of
// the index.
func (t *values) add(k valueKey, i uint64) vnum {
	n := vnum(len(t.keys))
	t.keys = append(t.keys, k)
	t.index[i] = n
	if 2*len(t.keys) > len(t.index) {
		t.grow()
	}
	return n
}

func (t *values) grow() {
	t.index = make([]uint32, 2*len(t.index))
	mask := uint64(len(t.index) - 1)
	for n := 1; n < len(t.keys); n++ {
		i := t.keys[n].hash() & mask
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = uint32(n)
	}
}

// constant returns the value number of the constant c.
func (t *values) constant(c uint32) vnum { return t.num(constCode, c, 0) }

// unique returns a value number equal to no other.
func (t *values) unique() vnum {
	t.uniq++
	return t.num(nop, t.uniq, 0)
}

// isConst returns the constant a value number stands for.
func (t *values) isConst(v vnum) (uint32, bool) {
	if v == unknown {
		return 0, false
	}
	k := t.keys[v]
	return k.v0, k.code == constCode
}

// pureAncillary reports whether the ancillary load at offset off depends
// on nothing but the packet's metadata; others (random, the netlink
// attribute searches that read A and X) give a value equal to no other.
func pureAncillary(off uint32) bool {
	switch off {
	case 0, 4, 8, 20, 24, 28, 32, 36, 44, 48, 52, 60:
		return true
	}
	return false
}

// fold computes a <op> b for constant operands. Shifts by 32 or more give
// 0; division and modulus by zero are for the caller to refuse.
func fold(op uint16, a, b uint32) uint32 {
	switch op {
	case cbpf.ADD:
		return a + b
	case cbpf.SUB:
		return a - b
	case cbpf.MUL:
		return a * b
	case cbpf.DIV:
		return a / b
	case cbpf.MOD:
		return a % b
	case cbpf.AND:
		return a & b
	case cbpf.OR:
		return a | b
	case cbpf.XOR:
		return a ^ b
	case cbpf.LSH:
		if b >= 32 {
			return 0
		}
		return a << b
	case cbpf.RSH:
		if b >= 32 {
			return 0
		}
		return a >> b
	}
	return 0
}
