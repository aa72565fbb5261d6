package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// Classic BPF opcode fields (linux/filter.h), used to build instructions
// before they become typed golang.org/x/net/bpf instructions.
const (
	opLD   = 0x00
	opLDX  = 0x01
	opST   = 0x02
	opSTX  = 0x03
	opALU  = 0x04
	opJMP  = 0x05
	opRET  = 0x06
	opMISC = 0x07

	szW = 0x00
	szH = 0x08
	szB = 0x10

	modeIMM = 0x00
	modeABS = 0x20
	modeIND = 0x40
	modeMEM = 0x60
	modeLEN = 0x80
	modeMSH = 0xa0

	aluADD = 0x00
	aluSUB = 0x10
	aluMUL = 0x20
	aluDIV = 0x30
	aluOR  = 0x40
	aluAND = 0x50
	aluLSH = 0x60
	aluRSH = 0x70
	aluNEG = 0x80
	aluMOD = 0x90
	aluXOR = 0xa0

	jmpJA   = 0x00
	jmpJEQ  = 0x10
	jmpJGT  = 0x20
	jmpJGE  = 0x30
	jmpJSET = 0x40

	srcK = 0x00
	srcX = 0x08

	miscTAX = 0x00
	miscTXA = 0x80

	retK = 0x00
)

// Linux ancillary data offsets (SKF_AD_*), loaded at SKF_AD_OFF + n.
const (
	skfAdOff            = 0xfffff000
	skfAdProtocol       = 0
	skfAdPktType        = 4
	skfAdIfindex        = 8
	skfAdVlanTag        = 44
	skfAdVlanTagPresent = 48
)

// stmt is one straight-line instruction of a block. Statements that jump
// (only protochain's header walk has them) name their targets as offsets
// relative to the next statement of the same block.
type stmt struct {
	code   uint16
	k      uint32
	jt, jf uint8
}

// meaning records whether a block is a known constant, which lets and/or
// drop the other operand as libpcap does.
type meaning uint8

const (
	uncertain meaning = iota
	isTrue
	isFalse
)

// block is a basic block: statements, then a conditional jump (or a
// return) whose targets are other blocks.
type block struct {
	stmts  []stmt
	code   uint16 // the final jump or return
	k      uint32
	jt, jf *block

	// layout state
	mark           bool
	offset         int
	longjt, longjf int
}

// exit is an unresolved branch of a block: its true or its false edge.
type exit struct {
	b    *block
	true bool
}

func (e exit) set(t *block) {
	if e.true {
		e.b.jt = t
	} else {
		e.b.jf = t
	}
}

// frag is a condition under construction: an entry block and the edges
// that leave it when the condition holds (t) and when it does not (f).
type frag struct {
	head *block
	t, f []exit
	m    meaning
}

// jmpFrag makes a fragment of one block that runs stmts and jumps on
// "A <code> k".
func jmpFrag(code uint16, k uint32, stmts []stmt) *frag {
	b := &block{stmts: stmts, code: code, k: k}
	return &frag{head: b, t: []exit{{b, true}}, f: []exit{{b, false}}}
}

// and joins two conditions: b runs only when a holds.
func and(a, b *frag) *frag {
	switch {
	case a.m == isFalse:
		return a
	case b.m == isFalse:
		return b
	case a.m == isTrue:
		return b
	case b.m == isTrue:
		return a
	}
	for _, e := range a.t {
		e.set(b.head)
	}
	f := append(append([]exit{}, b.f...), a.f...)
	return &frag{head: a.head, t: b.t, f: f}
}

// or joins two conditions: b runs only when a does not hold.
func or(a, b *frag) *frag {
	switch {
	case a.m == isFalse:
		return b
	case b.m == isFalse:
		return a
	case a.m == isTrue:
		return a
	case b.m == isTrue:
		return b
	}
	for _, e := range a.f {
		e.set(b.head)
	}
	t := append(append([]exit{}, b.t...), a.t...)
	return &frag{head: a.head, t: t, f: b.f}
}

// not negates a condition.
func not(a *frag) *frag {
	m := a.m
	switch m {
	case isTrue:
		m = isFalse
	case isFalse:
		m = isTrue
	}
	return &frag{head: a.head, t: a.f, f: a.t, m: m}
}

// finish attaches the returns: snaplen when the condition holds, 0 when
// it does not. It returns the root block.
func finish(a *frag, snaplen uint32) *block {
	accept := &block{code: opRET | retK, k: snaplen}
	reject := &block{code: opRET | retK, k: 0}
	for _, e := range a.t {
		e.set(accept)
	}
	for _, e := range a.f {
		e.set(reject)
	}
	return a.head
}

// errLayout is wrapped by layout errors (a jump inside a block that does
// not fit).
var errLayout = errors.New("bpf layout")

// layout linearizes the block graph: each block is placed before the
// blocks it jumps to, the false successor's subgraph last (the order of
// libpcap's unoptimized output). A conditional jump farther than 255
// instructions goes through an extra "ja" placed after it; when one is
// needed the layout starts over with the extra room.
func layout(root *block) ([]bpf.RawInstruction, error) {
	for try := 0; ; try++ {
		if try > 10000 {
			return nil, fmt.Errorf("%w: no stable layout", errLayout)
		}
		n := 0
		var count func(b *block)
		count = func(b *block) {
			if b == nil || b.mark {
				return
			}
			b.mark = true
			n += len(b.stmts) + 1 + b.longjt + b.longjf
			count(b.jt)
			count(b.jf)
		}
		count(root)
		unmark(root)
		out := make([]bpf.RawInstruction, n)
		tail := n
		retry := false
		var place func(b *block) error
		place = func(b *block) error {
			if b == nil || b.mark || retry {
				return nil
			}
			b.mark = true
			if err := place(b.jf); err != nil {
				return err
			}
			if err := place(b.jt); err != nil {
				return err
			}
			if retry {
				return nil
			}
			slen := len(b.stmts)
			tail -= slen + 1 + b.longjt + b.longjf
			b.offset = tail
			for i, s := range b.stmts {
				out[tail+i] = bpf.RawInstruction{Op: s.code, Jt: s.jt, Jf: s.jf, K: s.k}
			}
			at := tail + slen
			ins := bpf.RawInstruction{Op: b.code, K: b.k}
			if b.jt != nil {
				extra := 0
				off := b.jt.offset - at - 1
				if off >= 256 {
					if b.longjt == 0 {
						b.longjt = 1
						retry = true
						return nil
					}
					ins.Jt = uint8(extra)
					extra++
					out[at+extra] = bpf.RawInstruction{Op: opJMP | jmpJA, K: uint32(off - extra)}
				} else {
					ins.Jt = uint8(off)
				}
				off = b.jf.offset - at - 1
				if off >= 256 {
					if b.longjf == 0 {
						b.longjf = 1
						retry = true
						return nil
					}
					ins.Jf = uint8(extra)
					extra++
					out[at+extra] = bpf.RawInstruction{Op: opJMP | jmpJA, K: uint32(off - extra)}
				} else {
					ins.Jf = uint8(off)
				}
			}
			out[at] = ins
			return nil
		}
		err := place(root)
		unmark(root)
		if err != nil {
			return nil, err
		}
		if !retry {
			return out, nil
		}
	}
}

func unmark(b *block) {
	if b == nil || !b.mark {
		return
	}
	b.mark = false
	unmark(b.jt)
	unmark(b.jf)
}
