package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
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
	maxRawInstructions = 2 * maxInstructions
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
	raw, noOpt, err := compileRaw(expr, opts)
	if err != nil {
		return nil, err
	}
	prog := toInstructions(raw)
	if !opts.NoOptimize && !noOpt {
		prog, err = optimize(prog)
		if err != nil {
			for _, e := range []error{opt.ErrDivisionByZero, opt.ErrModulusByZero, opt.ErrShiftTooFar} {
				if errors.Is(err, e) {
					// libpcap's optimizer reports these as the filter's
					// errors: a constant divisor or shift computed
					// from the expression.
					return nil, &Error{Pos: posAt(expr, 0), Msg: e.Error()}
				}
			}
			return nil, fmt.Errorf("bpf: optimize %q: %w", expr, err)
		}
		if len(prog) == 1 {
			if r, ok := prog[0].(bpf.RetConstant); ok && r.Val == 0 {
				return nil, &Error{Pos: posAt(expr, 0), Msg: ErrRejectsAll.Error(), Err: ErrRejectsAll}
			}
		}
	}
	if len(prog) > maxInstructions {
		return nil, &Error{Pos: posAt(expr, 0), Msg: fmt.Sprintf("%v: %d instructions, more than the kernel's %d", ErrTooLong, len(prog), maxInstructions), Err: ErrTooLong}
	}
	return prog, nil
}

// compileRaw parses and generates the unoptimized program. noOpt reports
// that the program must not be optimized (libpcap turns its optimizer off
// for protochain and the tunnel offsets).
func compileRaw(expr string, opts Options) (raw []bpf.RawInstruction, noOpt bool, err error) {
	snaplen := opts.Snaplen
	if snaplen <= 0 {
		snaplen = defaultSnaplen
	}
	if off, n := longestAddrRun(expr); n > maxAddrRun {
		return nil, false, &Error{Pos: posAt(expr, off), Msg: fmt.Sprintf("%d address or number characters in a row, more than %d", n, maxAddrRun)}
	}
	node, prefix, err := parse(expr)
	if err != nil {
		// libpcap generates code as it parses: an error in the primitives
		// before a syntax error is the one it reports.
		if prefix != nil && countPrimitives(prefix) <= maxPrimitives {
			if g, gerr := newGen(expr, opts); gerr == nil {
				if _, perr := g.generate(prefix); perr != nil {
					return nil, false, perr
				}
			}
		}
		return nil, false, err
	}
	if n := countPrimitives(node); n > maxPrimitives {
		return nil, false, &Error{Pos: posAt(expr, 0), Msg: fmt.Sprintf("%v: %d primitives, more than the %d tests a program of the kernel's %d instructions holds", ErrTooLong, n, maxPrimitives, maxInstructions), Err: ErrTooLong}
	}
	g, err := newGen(expr, opts)
	if err != nil {
		return nil, false, err
	}
	var f *frag
	if node != nil {
		if f, err = g.generate(node); err != nil {
			return nil, false, err
		}
	}
	var root *block
	if f == nil {
		root = &block{code: cbpf.RET | cbpf.K, k: uint32(snaplen)}
	} else {
		root = finish(f, uint32(snaplen))
		g.insertVloffsets(root)
	}
	if n := blockSize(root, maxRawInstructions); n > maxRawInstructions {
		return nil, false, &Error{Pos: posAt(expr, 0), Msg: fmt.Sprintf("%v: more than %d instructions before optimization (the kernel takes %d)", ErrTooLong, maxRawInstructions, maxInstructions), Err: ErrTooLong}
	}
	raw, err = layout(root)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, false, e
		}
		return nil, false, &Error{Pos: posAt(expr, 0), Msg: err.Error()}
	}
	return raw, g.noOptimize, nil
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
	ins := r.Disassemble()
	back, err := ins.Assemble()
	if err != nil || back != r {
		return r
	}
	return ins
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
	count := 0
	stack := []Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch n := n.(type) {
		case nil:
		case *BinaryNode:
			stack = append(stack, n.X, n.Y)
		case *NotNode:
			stack = append(stack, n.X)
		default:
			count++
		}
	}
	return count
}

// blockSize returns the number of instructions of the block graph at root
// (long jumps aside), or a number above limit once it passes limit.
func blockSize(root *block, limit int) int {
	seen := map[*block]bool{root: true}
	stack := []*block{root}
	n := 0
	for len(stack) > 0 && n <= limit {
		b := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n += len(b.stmts) + 1
		for _, s := range []*block{b.jt, b.jf} {
			if s != nil && !seen[s] {
				seen[s] = true
				stack = append(stack, s)
			}
		}
	}
	return n
}

// longestAddrRun returns the offset and length of the longest run of the
// characters of addresses and numbers in s.
func longestAddrRun(s string) (off, n int) {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && (isHex(s[i]) || s[i] == ':' || s[i] == '.' || s[i] == 'x' || s[i] == 'X') {
			continue
		}
		if i-start > n {
			off, n = start, i-start
		}
		start = i + 1
	}
	return off, n
}
