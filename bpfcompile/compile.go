package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// maxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS).
const maxInstructions = 4096

// defaultSnaplen is what Options.Snaplen 0 means, as tcpdump's -s 0.
const defaultSnaplen = 262144

// Size guards, checked before the costly steps: generating, laying out and
// optimizing a program take time and memory that grow faster than its
// length. Every primitive needs a test of its own in the program (unless
// it repeats another), so an expression with more than maxPrimitives of
// them cannot fit the kernel's limit. An unoptimized program longer than
// maxRawInstructions is refused before layout; the optimizer shortens a
// few such programs enough to fit (a long chain of "and not host" shrinks
// tenfold), the price of a bounded compile time.
const (
	maxPrimitives      = maxInstructions
	maxRawInstructions = 4 * maxInstructions
)

// maxAddrRun bounds a run of the characters addresses and numbers are made
// of (hex digits, ':', '.', 'x'), as a second line of defence: the lexer is
// linear (it once tried every prefix of such a run as an IPv6 address,
// cubic: 3000 colons took 90 s), and the longest valid token of these
// characters, a host name, has 253.
const maxAddrRun = 256

// Compile compiles a pcap-filter(7) expression into a classic BPF program
// for the link type and options given. The program returns the snapshot
// length for a packet that matches and 0 for one that does not. Errors are
// *Error values naming the position in expr.
func Compile(expr string, opts Options) ([]bpf.Instruction, error) {
	gr, noOpt, err := compileGraph(expr, opts)
	if err != nil {
		return nil, err
	}
	var raw []bpf.RawInstruction
	if opts.NoOptimize || noOpt {
		raw, err = layoutProgram(expr, gr)
	} else {
		raw, err = optimizeGraph(expr, gr)
	}
	if err != nil {
		return nil, err
	}
	if len(raw) > maxInstructions {
		return nil, &Error{Pos: posAt(expr, 0), Msg: fmt.Sprintf("%v: %d instructions, more than the kernel's %d", ErrTooLong, len(raw), maxInstructions), Err: ErrTooLong}
	}
	return toInstructions(raw), nil
}

// compileRaw parses and generates the unoptimized program. noOpt reports
// that the program must not be optimized (libpcap turns its optimizer off
// for protochain and the tunnel offsets).
func compileRaw(expr string, opts Options) (raw []bpf.RawInstruction, noOpt bool, err error) {
	gr, noOpt, err := compileGraph(expr, opts)
	if err != nil {
		return nil, false, err
	}
	raw, err = layoutProgram(expr, gr)
	return raw, noOpt, err
}

// graph is a generated program: the blocks of g reachable from root,
// nblocks of them numbered in order (block.offset, root 0; block.next is
// the next in that order), and their n instructions (long jumps aside).
type graph struct {
	g       *gen
	root    int32
	nblocks int
	n       int
}

// compileGraph parses expr and generates its program as a graph of
// blocks. noOpt reports that the program must not be optimized (libpcap
// turns its optimizer off for protochain and the tunnel offsets).
func compileGraph(expr string, opts Options) (gr graph, noOpt bool, err error) {
	snaplen := opts.Snaplen
	if snaplen <= 0 {
		snaplen = defaultSnaplen
	}
	if off, n := longestAddrRun(expr); n > maxAddrRun {
		return graph{}, false, &Error{Pos: posAt(expr, off), Msg: fmt.Sprintf("%d address or number characters in a row, more than %d", n, maxAddrRun)}
	}
	// The generator is made first, for its room for the nodes; its error
	// (an unknown link type) comes after the parser's.
	g, gerr := newGen(expr, opts)
	var nodes *nodeRoom
	if gerr == nil {
		nodes = &g.nodeRoom
	}
	node, prefix, err := parseTo(nil, nodes, expr)
	if err != nil {
		// libpcap generates code as it parses: an error in the primitives
		// before a syntax error is the one it reports.
		if prefix != nil && gerr == nil && countPrimitives(prefix) <= maxPrimitives {
			if _, perr := g.generate(prefix); perr != nil {
				return graph{}, false, perr
			}
		}
		return graph{}, false, err
	}
	prims, blocks := sizePrimitives(node)
	if prims > maxPrimitives {
		return graph{}, false, &Error{Pos: posAt(expr, 0), Msg: fmt.Sprintf("%v: %d primitives, more than the %d tests a program of the kernel's %d instructions holds", ErrTooLong, prims, maxPrimitives, maxInstructions), Err: ErrTooLong}
	}
	if gerr != nil {
		return graph{}, false, gerr
	}
	g.reserve(blocks)
	if !opts.NoOptimize {
		// The shape is for the optimizer; unoptimized, the program is
		// libpcap's.
		g.portChains = markPortChains(node)
	}
	var f *frag
	if node != nil {
		if f, err = g.generate(node); err != nil {
			return graph{}, false, err
		}
	}
	gr.g = g
	if f == nil {
		gr.root = g.newBlock(cbpf.RET|cbpf.K, uint32(snaplen), nil)
	} else {
		gr.root = g.finish(g.finishParse(f), uint32(snaplen))
	}
	if gr.nblocks, gr.n = g.reachable(gr.root, maxRawInstructions); gr.n > maxRawInstructions {
		return graph{}, false, &Error{Pos: posAt(expr, 0), Msg: fmt.Sprintf("%v: more than %d instructions before optimization (the kernel takes %d)", ErrTooLong, maxRawInstructions, maxInstructions), Err: ErrTooLong}
	}
	return gr, g.noOptimize, nil
}

// layoutProgram lays the program at root out as instructions.
func layoutProgram(expr string, gr graph) ([]bpf.RawInstruction, error) {
	raw, err := gr.g.layout(gr.root)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, &Error{Pos: posAt(expr, 0), Msg: err.Error()}
	}
	return raw, nil
}

// toInstructions converts raw instructions as toInstruction does.
func toInstructions(raw []bpf.RawInstruction) []bpf.Instruction {
	prog := make([]bpf.Instruction, len(raw))
	for i, r := range raw {
		prog[i] = toInstruction(r)
	}
	return prog
}

// toInstruction converts a raw instruction to its typed form when that
// form assembles back to the same encoding, and keeps it raw otherwise
// (ancillary loads of other sizes than a word, for one).
func toInstruction(r bpf.RawInstruction) bpf.Instruction {
	// The instructions filters are made of, directly (Disassemble and
	// Assemble again cost more than the rest of this conversion).
	switch r.Op {
	case cbpf.LD | cbpf.ABS | cbpf.H, cbpf.LD | cbpf.ABS | cbpf.B:
		size := 2
		if r.Op == cbpf.LD|cbpf.ABS|cbpf.B {
			size = 1
		}
		return bpf.LoadAbsolute{Off: r.K, Size: size}
	case cbpf.LD | cbpf.ABS | cbpf.W:
		if r.K < cbpf.AncillaryBase {
			return bpf.LoadAbsolute{Off: r.K, Size: 4}
		}
	case cbpf.JMP | cbpf.JEQ | cbpf.K:
		return bpf.JumpIf{Cond: bpf.JumpEqual, Val: r.K, SkipTrue: r.Jt, SkipFalse: r.Jf}
	case cbpf.JMP | cbpf.JGT | cbpf.K:
		return bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: r.K, SkipTrue: r.Jt, SkipFalse: r.Jf}
	case cbpf.JMP | cbpf.JGE | cbpf.K:
		return bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: r.K, SkipTrue: r.Jt, SkipFalse: r.Jf}
	case cbpf.JMP | cbpf.JSET | cbpf.K:
		return bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: r.K, SkipTrue: r.Jt, SkipFalse: r.Jf}
	case cbpf.RET | cbpf.K:
		return bpf.RetConstant{Val: r.K}
	}
	if r.Jt != 0 || r.Jf != 0 {
		// Not a jump: the typed forms assemble with no targets.
		return toTyped(r)
	}
	switch r.Op {
	case cbpf.LD | cbpf.IND | cbpf.B, cbpf.LD | cbpf.IND | cbpf.H, cbpf.LD | cbpf.IND | cbpf.W:
		return bpf.LoadIndirect{Off: r.K, Size: loadSize(r.Op)}
	case cbpf.LDX | cbpf.MSH | cbpf.B:
		return bpf.LoadMemShift{Off: r.K}
	case cbpf.LD | cbpf.IMM:
		return bpf.LoadConstant{Dst: bpf.RegA, Val: r.K}
	case cbpf.LDX | cbpf.IMM:
		return bpf.LoadConstant{Dst: bpf.RegX, Val: r.K}
	case cbpf.ALU | cbpf.K | cbpf.ADD, cbpf.ALU | cbpf.K | cbpf.SUB, cbpf.ALU | cbpf.K | cbpf.MUL,
		cbpf.ALU | cbpf.K | cbpf.DIV, cbpf.ALU | cbpf.K | cbpf.OR, cbpf.ALU | cbpf.K | cbpf.AND,
		cbpf.ALU | cbpf.K | cbpf.LSH, cbpf.ALU | cbpf.K | cbpf.RSH, cbpf.ALU | cbpf.K | cbpf.MOD,
		cbpf.ALU | cbpf.K | cbpf.XOR:
		return bpf.ALUOpConstant{Op: bpf.ALUOp(r.Op & 0xf0), Val: r.K}
	case cbpf.MISC | cbpf.TAX, cbpf.MISC | cbpf.TXA, cbpf.RET | cbpf.A:
		if r.K != 0 {
			break // the typed forms assemble with k 0
		}
		switch r.Op {
		case cbpf.MISC | cbpf.TAX:
			return bpf.TAX{}
		case cbpf.MISC | cbpf.TXA:
			return bpf.TXA{}
		}
		return bpf.RetA{}
	}
	return toTyped(r)
}

// toTyped converts r by Disassemble, keeping it raw when the typed form
// does not assemble back to r.
func toTyped(r bpf.RawInstruction) bpf.Instruction {
	ins := r.Disassemble()
	back, err := ins.Assemble()
	if err != nil || back != r {
		return r
	}
	return ins
}

// loadSize is the size in bytes of a load of opcode op.
func loadSize(op uint16) int {
	switch op & 0x18 {
	case cbpf.B:
		return 1
	case cbpf.H:
		return 2
	}
	return 4
}

// generate runs the code generator over n, turning its bailouts into an
// error.
func (g *gen) generate(n Node) (f *frag, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			f, err = nil, b.err
		}
	}()
	return g.genNode(n), nil
}

// countPrimitives returns the number of primitives (the leaves: not "and",
// "or", "not") of the syntax tree n.
func countPrimitives(n Node) int {
	count, _ := sizePrimitives(n)
	return count
}

// sizePrimitives returns the number of primitives of the syntax tree n
// and about the number of blocks the code generator makes for them: a
// protocol alone ("icmp", "arp") some 2 to 4, a port or port range of any
// protocol 20 to 24 (tests for TCP, UDP and SCTP over IPv4 and IPv6),
// another primitive up to blocksPerPrimitive (a host: 14).
func sizePrimitives(n Node) (count, blocks int) {
	var room [16]Node // the stack of a filter of a few primitives
	stack := append(room[:0], n)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch n := n.(type) {
		case nil:
		case *BinaryNode:
			stack = append(stack, n.X, n.Y)
		case *NotNode:
			stack = append(stack, n.X)
		case *ProtoNode:
			count++
			blocks += 4
		case *IDNode:
			count++
			if (n.Q.addr == aPort || n.Q.addr == aPortrange) && n.Q.proto == qDefault {
				blocks += 2 * blocksPerPrimitive
			} else {
				blocks += blocksPerPrimitive
			}
		default:
			count++
			blocks += blocksPerPrimitive
		}
	}
	return count, blocks
}

// reachable numbers the blocks reachable from root depth first, true
// successor first (block.offset; root 0), links them in that order
// (block.next), and returns their number and their number of
// instructions (long jumps aside), or a number above limit once it passes
// limit. It runs once on a graph: the offsets of the blocks not numbered
// yet (unreached, queued) are its marks.
func (g *gen) reachable(root int32, limit int) (nblocks, n int) {
	blk := g.blk
	blk[root].offset = queued
	var room [32]int32
	stack := append(room[:0], root)
	var prev *block // the block numbered last
	for len(stack) > 0 && n <= limit {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		b := &blk[id]
		b.offset = int32(nblocks)
		if prev != nil {
			prev.next = id
		}
		prev = b
		nblocks++
		n += int(b.nstmts) + 1
		if s := b.jf; s != noBlock && blk[s].offset == unreached {
			blk[s].offset = queued
			stack = append(stack, s)
		}
		if s := b.jt; s != noBlock && blk[s].offset == unreached {
			blk[s].offset = queued
			stack = append(stack, s)
		}
	}
	if prev != nil {
		prev.next = noBlock
	}
	return nblocks, n
}

// longestAddrRun returns the offset and length of the longest run of the
// characters of addresses and numbers in s.
func longestAddrRun(s string) (off, n int) {
	for i := 0; i < len(s); {
		if charClass[s[i]]&ccAddr == 0 {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && charClass[s[j]]&ccAddr != 0 {
			j++
		}
		if j-i > n {
			off, n = i, j-i
		}
		i = j
	}
	return off, n
}
