package opt

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// ErrInvalid is returned, wrapped with the instruction at fault, when the
// optimizer is given a program that is not valid classic BPF.
var ErrInvalid = errors.New("bpf: invalid program")

// validOp reports whether op is an instruction the Linux classic BPF
// checker accepts (jumps and returns included).
func validOp(op uint16) bool {
	switch op & 0x07 {
	case cbpf.LD:
		switch op {
		case 0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x00, 0x60, 0x80:
			return true
		}
	case cbpf.LDX:
		switch op {
		case 0x01, 0x61, 0x81, 0xb1:
			return true
		}
	case cbpf.ST, cbpf.STX:
		return op < 8
	case cbpf.ALU:
		if op == cbpf.ALU|cbpf.NEG {
			return true
		}
		switch op & 0xf0 {
		case cbpf.ADD, cbpf.SUB, cbpf.MUL, cbpf.DIV, cbpf.OR, cbpf.AND,
			cbpf.LSH, cbpf.RSH, cbpf.MOD, cbpf.XOR:
			return op&^0xf8 == cbpf.ALU
		}
	case cbpf.JMP:
		if op == cbpf.JMP|cbpf.JA {
			return true
		}
		switch op & 0xf0 {
		case cbpf.JEQ, cbpf.JGT, cbpf.JGE, cbpf.JSET:
			return op&^0xf8 == cbpf.JMP
		}
	case cbpf.RET:
		return op == cbpf.RET|cbpf.K || op == cbpf.RET|cbpf.A
	case cbpf.MISC:
		return op == cbpf.MISC|cbpf.TAX || op == cbpf.MISC|cbpf.TXA
	}
	return false
}

// Block terminators.
const (
	termRet  = iota // return: op/k hold the ret instruction
	termJump        // unconditional: succ[0]
	termCond        // conditional jump op/k: true succ[0], false succ[1]
)

// block is a basic block: straight-line instructions and a terminator.
type block struct {
	order int                  // position in the input; blocks sorted by order are topologically sorted
	insns []bpf.RawInstruction // no jumps, no returns
	term  int
	op    uint16 // terminator opcode (ret or conditional jump)
	k     uint32
	succ  [2]int // successor block indices
	dead  bool
}

// graph is a program as basic blocks, block 0 the entry.
type graph struct {
	blocks []*block
	posBuf []int // emit's scratch

	// Scratch space of topoScratch and cleanup, reused from call to call.
	scratch struct {
		seen         []bool
		stack, order []int
		ints         []int
		table        []int32
	}
}

// assemble turns instructions into raw ones, checking each opcode.
func assemble(prog []bpf.Instruction) ([]bpf.RawInstruction, error) {
	raw := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		if ins == nil {
			return nil, fmt.Errorf("%w: instruction %d is nil", ErrInvalid, i)
		}
		ri, err := ins.Assemble()
		if err != nil {
			return nil, fmt.Errorf("%w: instruction %d: %w", ErrInvalid, i, err)
		}
		if !validOp(ri.Op) {
			return nil, fmt.Errorf("%w: instruction %d: unknown opcode 0x%02x", ErrInvalid, i, ri.Op)
		}
		if (ri.Op == cbpf.LD|cbpf.MEM || ri.Op == cbpf.LDX|cbpf.MEM || ri.Op&0x07 == cbpf.ST || ri.Op&0x07 == cbpf.STX) && ri.K > 15 {
			return nil, fmt.Errorf("%w: instruction %d: scratch index %d out of range", ErrInvalid, i, ri.K)
		}
		raw[i] = ri
	}
	return raw, nil
}

// hasBackwardJump reports whether a ja in raw goes backward (its K, read
// as signed, wraps around), as libpcap's protochain loop does.
func hasBackwardJump(raw []bpf.RawInstruction) (bool, error) {
	back := false
	for i, ri := range raw {
		if ri.Op != cbpf.JMP|cbpf.JA {
			continue
		}
		t := int64(i) + 1 + int64(int32(ri.K))
		if t < 0 || t >= int64(len(raw)) {
			return false, fmt.Errorf("%w: instruction %d: jump to %d out of program of %d", ErrInvalid, i, t, len(raw))
		}
		back = back || t <= int64(i)
	}
	return back, nil
}

// buildGraph splits raw (forward jumps only) into basic blocks.
func buildGraph(raw []bpf.RawInstruction) (*graph, error) {
	n := len(raw)
	if n == 0 {
		return nil, fmt.Errorf("%w: empty program", ErrInvalid)
	}
	leader := make([]bool, n+1)
	leader[0] = true
	target := func(i int, skip uint64) (int, error) {
		t := uint64(i) + 1 + skip
		if t >= uint64(n) {
			return 0, fmt.Errorf("%w: instruction %d: jump to %d out of program of %d", ErrInvalid, i, t, n)
		}
		return int(t), nil
	}
	for i, ri := range raw {
		switch ri.Op & 0x07 {
		case cbpf.JMP:
			if ri.Op == cbpf.JMP|cbpf.JA {
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
		case cbpf.RET:
			leader[i+1] = true
		}
	}
	last := raw[n-1].Op & 0x07
	if last != cbpf.RET && last != cbpf.JMP {
		return nil, fmt.Errorf("%w: program does not end in a return or jump", ErrInvalid)
	}
	blockAt := make([]int, n)
	g := &graph{}
	for i := 0; i < n; i++ {
		if leader[i] {
			g.blocks = append(g.blocks, &block{order: i})
		}
		blockAt[i] = len(g.blocks) - 1
	}
	for bi, b := range g.blocks {
		i := b.order
		for ; ; i++ {
			ri := raw[i]
			switch ri.Op & 0x07 {
			case cbpf.RET:
				b.term, b.op, b.k = termRet, ri.Op, ri.K
			case cbpf.JMP:
				if ri.Op == cbpf.JMP|cbpf.JA {
					b.term = termJump
					b.succ[0] = blockAt[i+1+int(ri.K)]
				} else {
					b.term, b.op, b.k = termCond, ri.Op, ri.K
					b.succ = [2]int{blockAt[i+1+int(ri.Jt)], blockAt[i+1+int(ri.Jf)]}
				}
			default:
				b.insns = append(b.insns, ri)
				if leader[i+1] {
					// Falls through into the next block.
					b.term = termJump
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

// retZero returns the index of a live "ret #0" block, adding one if needed.
func (g *graph) retZero() int {
	for i, b := range g.blocks {
		if !b.dead && b.term == termRet && b.op == cbpf.RET|cbpf.K && b.k == 0 && len(b.insns) == 0 {
			return i
		}
	}
	g.blocks = append(g.blocks, &block{order: g.maxOrder() + 1, term: termRet, op: cbpf.RET | cbpf.K})
	return len(g.blocks) - 1
}

func (g *graph) maxOrder() int {
	m := 0
	for _, b := range g.blocks {
		m = max(m, b.order)
	}
	return m
}

// nsucc is the number of successors of a block.
func (b *block) nsucc() int {
	switch b.term {
	case termJump:
		return 1
	case termCond:
		return 2
	}
	return 0
}

// topo returns the live blocks reachable from the entry, in order, and marks
// the others dead.
func (g *graph) topo() []int {
	return g.topoInto(nil)
}

// topoInto is topo appending to buf.
func (g *graph) topoInto(buf []int) []int {
	return append(buf, g.topoScratch()...)
}

// topoScratch is topo returning a slice that the next call reuses.
func (g *graph) topoScratch() []int {
	seen := resize(g.scratch.seen, len(g.blocks))
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

// resize returns s with length n, reallocated only when too short.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// emit lays the blocks out in order and encodes the jumps, adding long
// jumps where a conditional branch would skip more than 255 instructions.
func (g *graph) emit() ([]bpf.RawInstruction, error) {
	layout := g.topo()
	for round := 0; ; round++ {
		if round > len(g.blocks)+8 {
			return nil, fmt.Errorf("%w: layout does not converge", ErrInvalid)
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
			case termRet, termCond:
				p++
			case termJump:
				if li+1 >= len(layout) || layout[li+1] != b.succ[0] {
					p++
				}
			}
		}
		// Conditional branches too long for 8 bits go through a ja.
		fixed := false
		for li := 0; li < len(layout) && !fixed; li++ {
			b := g.blocks[layout[li]]
			if b.term != termCond {
				continue
			}
			at := pos[layout[li]] + len(b.insns)
			for s := 0; s < 2; s++ {
				if pos[b.succ[s]]-at-1 > 255 {
					g.blocks = append(g.blocks, &block{order: b.order, term: termJump, succ: [2]int{b.succ[s], 0}})
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
			case termRet:
				out = append(out, bpf.RawInstruction{Op: b.op, K: b.k})
			case termJump:
				if li+1 >= len(layout) || layout[li+1] != b.succ[0] {
					out = append(out, bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA, K: uint32(pos[b.succ[0]] - at - 1)})
				}
			case termCond:
				jt, jf := pos[b.succ[0]]-at-1, pos[b.succ[1]]-at-1
				if jt < 0 || jf < 0 {
					return nil, fmt.Errorf("%w: backward branch in layout", ErrInvalid)
				}
				out = append(out, bpf.RawInstruction{Op: b.op, K: b.k, Jt: uint8(jt), Jf: uint8(jf)})
			}
		}
		if len(out) != p {
			return nil, fmt.Errorf("%w: layout size mismatch", ErrInvalid)
		}
		return out, nil
	}
}

// instruction converts a raw instruction to the x/net/bpf type that
// assembles back to it (RawInstruction where there is none).
func instruction(ri bpf.RawInstruction) bpf.Instruction {
	switch {
	case ri.Op == cbpf.LD|cbpf.W|cbpf.ABS && ri.K >= cbpf.AncillaryBase && ri.K != cbpf.AncillaryBase+uint32(bpf.ExtLen):
		return bpf.LoadExtension{Num: bpf.Extension(ri.K - cbpf.AncillaryBase)}
	case ri.Op&0x07 == cbpf.LD && ri.Op&0xe0 == cbpf.ABS:
		return bpf.LoadAbsolute{Off: ri.K, Size: int(loadSize(ri.Op))}
	case ri.Op == cbpf.LDX|cbpf.LEN:
		return ri
	case ri.Op&0x07 == cbpf.JMP && ri.Op != cbpf.JMP|cbpf.JA:
		cond := map[uint16]bpf.JumpTest{cbpf.JEQ: bpf.JumpEqual, cbpf.JGT: bpf.JumpGreaterThan,
			cbpf.JGE: bpf.JumpGreaterOrEqual, cbpf.JSET: bpf.JumpBitsSet}[ri.Op&0xf0]
		if ri.Op&cbpf.X != 0 {
			return bpf.JumpIfX{Cond: cond, SkipTrue: ri.Jt, SkipFalse: ri.Jf}
		}
		return bpf.JumpIf{Cond: cond, Val: ri.K, SkipTrue: ri.Jt, SkipFalse: ri.Jf}
	}
	return ri.Disassemble()
}
