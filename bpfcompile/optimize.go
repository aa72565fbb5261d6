package bpfcompile

import (
	"errors"

	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
)

// ErrOptimize is returned, wrapped with the instruction at fault, when the
// optimizer is given a program that is not valid classic BPF.
var ErrOptimize = opt.ErrInvalid

// optimizeReport optimizes prog with a work budget (0: unbounded) and
// reports whether the optimized program failed the kernel's checker and
// prog was returned instead (a bug in a pass, which tests look for).
func optimizeReport(prog []bpf.Instruction, budget int) (out []bpf.Instruction, broken bool, err error) {
	out, _, err = opt.Optimize(prog, budget)
	if err != nil {
		return nil, false, err
	}
	if !stillValid(prog, out) {
		return prog, true, nil
	}
	return out, false, nil
}

// stillValid reports whether out passes the kernel's checker when in does.
// The passes keep programs valid; this guards the daemon against a bug in
// one of them: the unoptimized program is used instead.
func stillValid(in, out []bpf.Instruction) bool {
	lengthOnly := func(p []bpf.Instruction, err error) bool {
		return len(p) > maxInstructions && errors.Is(err, ErrProgramLength)
	}
	if err := Check(in); err != nil && !lengthOnly(in, err) {
		return true // nothing to keep
	}
	err := Check(out)
	return err == nil || lengthOnly(out, err)
}

// optimizeGraph optimizes the program generated at root, about n
// instructions long. The errors libpcap's optimizer reports about the
// filter (a constant divisor of zero, a shift too far, a program that
// rejects every packet) are *Errors. Should the optimized program fail the
// kernel's checker where the unoptimized one passes (a bug in a pass), the
// unoptimized one is returned.
func optimizeGraph(expr string, gr graph) ([]bpf.RawInstruction, error) {
	n := gr.n
	var out []bpf.RawInstruction
	var err error
	if blocks, ok := gr.g.exportBlocks(gr); ok {
		out, _, err = blocks.Optimize(opt.Budget(n))
	} else {
		// Jumps inside blocks (the Linux VLAN tests): the optimizer splits
		// the laid-out program into blocks itself.
		var raw []bpf.RawInstruction
		if raw, err = layoutProgram(expr, gr); err != nil {
			return nil, err
		}
		out, _, err = opt.OptimizeRaw(raw, opt.Budget(n))
	}
	if err != nil {
		for _, e := range []error{opt.ErrDivisionByZero, opt.ErrModulusByZero, opt.ErrShiftTooFar} {
			if errors.Is(err, e) {
				// libpcap's optimizer reports these as the filter's
				// errors: a constant divisor or shift computed from the
				// expression.
				return nil, &Error{Pos: posAt(expr, 0), Msg: e.Error()}
			}
		}
		return nil, fmt.Errorf("bpf: optimize %q: %w", expr, err)
	}
	if len(out) == 1 && out[0].Op == cbpf.RET|cbpf.K && out[0].K == 0 {
		return nil, &Error{Pos: posAt(expr, 0), Msg: ErrRejectsAll.Error(), Err: ErrRejectsAll}
	}
	if err := checkRaw(out); err != nil && !(len(out) > maxInstructions && errors.Is(err, ErrProgramLength)) {
		raw, lerr := layoutProgram(expr, gr)
		if lerr == nil && checkRaw(raw) == nil {
			return raw, nil
		}
	}
	return out, nil
}

// exportBlocks hands the blocks of gr (numbered by reachable) to the
// optimizer; ok is false when a statement jumps (within its block), which
// the optimizer's blocks do not.
func (g *gen) exportBlocks(gr graph) (blocks *opt.Blocks, ok bool) {
	if g.stmtJumps {
		return nil, false
	}
	blocks = opt.NewBlocks(gr.nblocks, gr.n-gr.nblocks)
	for id := gr.root; id != noBlock; {
		b := &g.blk[id]
		for _, s := range g.stmtsOf(b) {
			blocks.Stmt(bpf.RawInstruction{Op: s.code, Jt: s.jt, Jf: s.jf, K: s.k})
		}
		if b.jt != noBlock {
			blocks.End(b.code, b.k, int(g.blk[b.jt].offset), int(g.blk[b.jf].offset))
		} else {
			blocks.End(b.code, b.k, 0, 0)
		}
		id = b.next
	}
	return blocks, true
}
