package bpfcompile

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
)

// ErrOptimize is returned, wrapped with the instruction at fault, when the
// optimizer is given a program that is not valid classic BPF.
var ErrOptimize = errors.New("bpf: invalid program")

// Classic BPF opcode fields (linux/filter.h, pcap/bpf.h).
const (
	optClsLD   = 0x00
	optClsLDX  = 0x01
	optClsST   = 0x02
	optClsSTX  = 0x03
	optClsALU  = 0x04
	optClsJMP  = 0x05
	optClsRET  = 0x06
	optClsMISC = 0x07

	optSizeW = 0x00
	optSizeH = 0x08
	optSizeB = 0x10

	optModeIMM = 0x00
	optModeABS = 0x20
	optModeIND = 0x40
	optModeMEM = 0x60
	optModeLEN = 0x80
	optModeMSH = 0xa0

	optSrcX = 0x08

	optJA   = 0x00
	optJEQ  = 0x10
	optJGT  = 0x20
	optJGE  = 0x30
	optJSET = 0x40

	optALUAdd = 0x00
	optALUSub = 0x10
	optALUMul = 0x20
	optALUDiv = 0x30
	optALUOr  = 0x40
	optALUAnd = 0x50
	optALULsh = 0x60
	optALURsh = 0x70
	optALUNeg = 0x80
	optALUMod = 0x90
	optALUXor = 0xa0

	optRetK = 0x06
	optRetA = 0x16
	optTAX  = 0x07
	optTXA  = 0x87
)

// optValidOp reports whether op is an instruction the Linux classic BPF
// checker accepts (jumps and returns included).
func optValidOp(op uint16) bool {
	switch op & 0x07 {
	case optClsLD:
		switch op {
		case 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x00, 0x60, 0x80:
			return true
		}
	case optClsLDX:
		switch op {
		case 0x01, 0x61, 0x81, 0xb1:
			return true
		}
	case optClsST, optClsSTX:
		return op < 8
	case optClsALU:
		if op == optClsALU|optALUNeg {
			return true
		}
		switch op & 0xf0 {
		case optALUAdd, optALUSub, optALUMul, optALUDiv, optALUOr, optALUAnd,
			optALULsh, optALURsh, optALUMod, optALUXor:
			return op&^0xf8 == optClsALU
		}
	case optClsJMP:
		if op == optClsJMP|optJA {
			return true
		}
		switch op & 0xf0 {
		case optJEQ, optJGT, optJGE, optJSET:
			return op&^0xf8 == optClsJMP
		}
	case optClsRET:
		return op == optRetK || op == optRetA
	case optClsMISC:
		return op == optTAX || op == optTXA
	}
	return false
}

// Block terminators.
const (
	optTermRet  = iota // return: op/k hold the ret instruction
	optTermJump        // unconditional: succ[0]
	optTermCond        // conditional jump op/k: true succ[0], false succ[1]
)

// optBlock is a basic block: straight-line instructions and a terminator.
type optBlock struct {
	order int                  // position in the input; blocks sorted by order are topologically sorted
	insns []bpf.RawInstruction // no jumps, no returns
	term  int
	op    uint16 // terminator opcode (ret or conditional jump)
	k     uint32
	succ  [2]int // successor block indices
	dead  bool
}

// optCFG is a program as basic blocks, block 0 the entry.
type optCFG struct {
	blocks []*optBlock
	posBuf []int // emit's scratch

	// Scratch space of topoScratch and cleanup, reused from call to call.
	scratch struct {
		seen         []bool
		stack, order []int
		ints         []int
		table        []int32
	}
}

// optAssemble turns instructions into raw ones, checking each opcode.
func optAssemble(prog []bpf.Instruction) ([]bpf.RawInstruction, error) {
	raw := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		if ins == nil {
			return nil, fmt.Errorf("%w: instruction %d is nil", ErrOptimize, i)
		}
		ri, err := ins.Assemble()
		if err != nil {
			return nil, fmt.Errorf("%w: instruction %d: %w", ErrOptimize, i, err)
		}
		if !optValidOp(ri.Op) {
			return nil, fmt.Errorf("%w: instruction %d: unknown opcode 0x%02x", ErrOptimize, i, ri.Op)
		}
		if (ri.Op == optClsLD|optModeMEM || ri.Op == optClsLDX|optModeMEM || ri.Op&0x07 == optClsST || ri.Op&0x07 == optClsSTX) && ri.K > 15 {
			return nil, fmt.Errorf("%w: instruction %d: scratch index %d out of range", ErrOptimize, i, ri.K)
		}
		raw[i] = ri
	}
	return raw, nil
}

// optHasBackwardJump reports whether a ja in raw goes backward (its K, read
// as signed, wraps around), as libpcap's protochain loop does.
func optHasBackwardJump(raw []bpf.RawInstruction) (bool, error) {
	back := false
	for i, ri := range raw {
		if ri.Op != optClsJMP|optJA {
			continue
		}
		t := int64(i) + 1 + int64(int32(ri.K))
		if t < 0 || t >= int64(len(raw)) {
			return false, fmt.Errorf("%w: instruction %d: jump to %d out of program of %d", ErrOptimize, i, t, len(raw))
		}
		back = back || t <= int64(i)
	}
	return back, nil
}

// optBuildCFG splits raw (forward jumps only) into basic blocks.
func optBuildCFG(raw []bpf.RawInstruction) (*optCFG, error) {
	n := len(raw)
	if n == 0 {
		return nil, fmt.Errorf("%w: empty program", ErrOptimize)
	}
	leader := make([]bool, n+1)
	leader[0] = true
	target := func(i int, skip uint64) (int, error) {
		t := uint64(i) + 1 + skip
		if t >= uint64(n) {
			return 0, fmt.Errorf("%w: instruction %d: jump to %d out of program of %d", ErrOptimize, i, t, n)
		}
		return int(t), nil
	}
	for i, ri := range raw {
		switch ri.Op & 0x07 {
		case optClsJMP:
			if ri.Op == optClsJMP|optJA {
				t, err := target(i, uint64(ri.K))
				if err != nil {
					return nil, err
				}
				leader[t] = true
			} else {
				for _, s := range []uint8{ri.Jt, ri.Jf} {
					t, err := target(i, uint64(s))
					if err != nil {
						return nil, err
					}
					leader[t] = true
				}
			}
			leader[i+1] = true
		case optClsRET:
			leader[i+1] = true
		}
	}
	last := raw[n-1].Op & 0x07
	if last != optClsRET && last != optClsJMP {
		return nil, fmt.Errorf("%w: program does not end in a return or jump", ErrOptimize)
	}
	blockAt := make([]int, n)
	g := &optCFG{}
	for i := 0; i < n; i++ {
		if leader[i] {
			g.blocks = append(g.blocks, &optBlock{order: i})
		}
		blockAt[i] = len(g.blocks) - 1
	}
	for bi, b := range g.blocks {
		i := b.order
		for ; ; i++ {
			ri := raw[i]
			switch ri.Op & 0x07 {
			case optClsRET:
				b.term, b.op, b.k = optTermRet, ri.Op, ri.K
			case optClsJMP:
				if ri.Op == optClsJMP|optJA {
					b.term = optTermJump
					b.succ[0] = blockAt[i+1+int(ri.K)]
				} else {
					b.term, b.op, b.k = optTermCond, ri.Op, ri.K
					b.succ = [2]int{blockAt[i+1+int(ri.Jt)], blockAt[i+1+int(ri.Jf)]}
				}
			default:
				b.insns = append(b.insns, ri)
				if leader[i+1] {
					// Falls through into the next block.
					b.term = optTermJump
					b.succ[0] = bi + 1
				} else {
					continue
				}
			}
			break
		}
	}
	return g, nil
}

// optRetZero returns the index of a live "ret #0" block, adding one if needed.
func (g *optCFG) optRetZero() int {
	for i, b := range g.blocks {
		if !b.dead && b.term == optTermRet && b.op == optRetK && b.k == 0 && len(b.insns) == 0 {
			return i
		}
	}
	g.blocks = append(g.blocks, &optBlock{order: g.maxOrder() + 1, term: optTermRet, op: optRetK})
	return len(g.blocks) - 1
}

func (g *optCFG) maxOrder() int {
	m := 0
	for _, b := range g.blocks {
		m = max(m, b.order)
	}
	return m
}

// optNSucc is the number of successors of a block.
func (b *optBlock) nsucc() int {
	switch b.term {
	case optTermJump:
		return 1
	case optTermCond:
		return 2
	}
	return 0
}

// topo returns the live blocks reachable from the entry, in order, and marks
// the others dead.
func (g *optCFG) topo() []int {
	return g.topoInto(nil)
}

// topoInto is topo appending to buf.
func (g *optCFG) topoInto(buf []int) []int {
	return append(buf, g.topoScratch()...)
}

// topoScratch is topo returning a slice that the next call reuses.
func (g *optCFG) topoScratch() []int {
	seen := optResize(g.scratch.seen, len(g.blocks))
	clear(seen)
	stack := append(g.scratch.stack[:0], 0)
	seen[0] = true
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		b := g.blocks[i]
		for s := 0; s < b.nsucc(); s++ {
			if t := b.succ[s]; !seen[t] {
				seen[t] = true
				stack = append(stack, t)
			}
		}
	}
	order := g.scratch.order[:0]
	sorted := true
	for i, b := range g.blocks {
		if !seen[i] {
			b.dead = true
			continue
		}
		b.dead = false
		if len(order) > 0 && g.blocks[order[len(order)-1]].order > b.order {
			sorted = false
		}
		order = append(order, i)
	}
	if !sorted {
		slices.SortStableFunc(order, func(x, y int) int { return g.blocks[x].order - g.blocks[y].order })
	}
	g.scratch.seen, g.scratch.stack, g.scratch.order = seen, stack, order
	return order
}

// optResize returns s with length n, reallocated only when too short.
func optResize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// emit lays the blocks out in order and encodes the jumps, adding long
// jumps where a conditional branch would skip more than 255 instructions.
func (g *optCFG) emit() ([]bpf.RawInstruction, error) {
	layout := g.topo()
	for round := 0; ; round++ {
		if round > len(g.blocks)+8 {
			return nil, fmt.Errorf("%w: layout does not converge", ErrOptimize)
		}
		pos := g.posBuf[:0]
		for range g.blocks {
			pos = append(pos, -1)
		}
		g.posBuf = pos
		p := 0
		for li, bi := range layout {
			b := g.blocks[bi]
			pos[bi] = p
			p += len(b.insns)
			switch b.term {
			case optTermRet, optTermCond:
				p++
			case optTermJump:
				if li+1 >= len(layout) || layout[li+1] != b.succ[0] {
					p++
				}
			}
		}
		// Conditional branches too long for 8 bits go through a ja.
		fixed := false
		for li := 0; li < len(layout) && !fixed; li++ {
			b := g.blocks[layout[li]]
			if b.term != optTermCond {
				continue
			}
			at := pos[layout[li]] + len(b.insns)
			for s := 0; s < 2; s++ {
				if pos[b.succ[s]]-at-1 > 255 {
					g.blocks = append(g.blocks, &optBlock{order: b.order, term: optTermJump, succ: [2]int{b.succ[s], 0}})
					b.succ[s] = len(g.blocks) - 1
					layout = slices.Insert(layout, li+1, len(g.blocks)-1)
					fixed = true
					break
				}
			}
		}
		if fixed {
			continue
		}
		out := make([]bpf.RawInstruction, 0, p)
		for li, bi := range layout {
			b := g.blocks[bi]
			out = append(out, b.insns...)
			at := len(out)
			switch b.term {
			case optTermRet:
				out = append(out, bpf.RawInstruction{Op: b.op, K: b.k})
			case optTermJump:
				if li+1 >= len(layout) || layout[li+1] != b.succ[0] {
					out = append(out, bpf.RawInstruction{Op: optClsJMP | optJA, K: uint32(pos[b.succ[0]] - at - 1)})
				}
			case optTermCond:
				jt, jf := pos[b.succ[0]]-at-1, pos[b.succ[1]]-at-1
				if jt < 0 || jf < 0 {
					return nil, fmt.Errorf("%w: backward branch in layout", ErrOptimize)
				}
				out = append(out, bpf.RawInstruction{Op: b.op, K: b.k, Jt: uint8(jt), Jf: uint8(jf)})
			}
		}
		if len(out) != p {
			return nil, fmt.Errorf("%w: layout size mismatch", ErrOptimize)
		}
		return out, nil
	}
}

// optInstruction converts a raw instruction to the x/net/bpf type that
// assembles back to it (RawInstruction where there is none).
func optInstruction(ri bpf.RawInstruction) bpf.Instruction {
	switch {
	case ri.Op == optClsLD|optSizeW|optModeABS && ri.K >= ancillaryBase && ri.K != ancillaryBase+uint32(bpf.ExtLen):
		return bpf.LoadExtension{Num: bpf.Extension(ri.K - ancillaryBase)}
	case ri.Op&0x07 == optClsLD && ri.Op&0xe0 == optModeABS:
		return bpf.LoadAbsolute{Off: ri.K, Size: int(optLoadSize(ri.Op))}
	case ri.Op == optClsLDX|optModeLEN:
		return ri
	case ri.Op&0x07 == optClsJMP && ri.Op != optClsJMP|optJA:
		cond := map[uint16]bpf.JumpTest{optJEQ: bpf.JumpEqual, optJGT: bpf.JumpGreaterThan,
			optJGE: bpf.JumpGreaterOrEqual, optJSET: bpf.JumpBitsSet}[ri.Op&0xf0]
		if ri.Op&optSrcX != 0 {
			return bpf.JumpIfX{Cond: cond, SkipTrue: ri.Jt, SkipFalse: ri.Jf}
		}
		return bpf.JumpIf{Cond: cond, Val: ri.K, SkipTrue: ri.Jt, SkipFalse: ri.Jf}
	}
	return ri.Disassemble()
}
