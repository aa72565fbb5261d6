package opt

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// maxRounds bounds the optimizer's fixpoint loop; every round that
// changes something makes the program smaller or its edges longer, so real
// programs settle in a few rounds.
const maxRounds = 64

// The optimizer's work budget, in units of values.work: about one
// instruction, edge or fact looked at, some 25-65 ns each. The corpus's
// programs need at most 170 units per instruction, long generated chains
// ("port 1 or ... or port 100", 3164 instructions) some 360. The budget is
// workPerInsn per instruction of the input, at least workMin and at
// most workMax: whatever its shape, a program that the compiler's size
// guards let through is optimized in a quarter of a second at most.
const (
	workPerInsn = 2000
	workMin     = 1 << 20
	workMax     = 4 << 20
)

// Budget returns the work budget for a program of n instructions: what
// Optimize needs for any program the compiler's size guards let through.
func Budget(n int) int {
	return min(workMax, max(workMin, workPerInsn*n))
}

// Stats reports the work one call of Optimize did.
type Stats struct {
	// Work is the units of work done: about one instruction, edge or fact
	// looked at. It passes the budget by at most what the passes do
	// between two looks at the budget.
	Work int
	// Rounds is the number of rounds of passes begun.
	Rounds int
}

// Optimize returns a program equivalent to prog on every packet and no
// longer than it, doing about budget units of work at most (0: no limit;
// Budget gives the compiler's). When the budget runs out, it returns the
// program as the last pass left it, which is equivalent to prog too.
//
// A program that rejects every packet becomes "ret #0". A program with a
// backward jump (libpcap's protochain loop), or one that reads a scratch
// slot before any store to it, is returned unchanged. The error wraps
// ErrInvalid when prog is not a valid loop-free classic BPF program:
// unknown opcodes, jumps out of the program, no return at the end.
func Optimize(prog []bpf.Instruction, budget int) ([]bpf.Instruction, Stats, error) {
	raw, err := assemble(prog)
	if err != nil {
		return nil, Stats{}, err
	}
	if len(raw) == 0 {
		return nil, Stats{}, fmt.Errorf("%w: empty program", ErrInvalid)
	}
	back, err := hasBackwardJump(raw)
	if err != nil {
		return nil, Stats{}, err
	}
	if back {
		return instructions(raw), Stats{}, nil
	}
	g, err := buildGraph(raw)
	if err != nil {
		return nil, Stats{}, err
	}
	t := newValues()
	t.budget = budget
	out, err := optimizeGraph(g, t)
	st := Stats{Work: t.work, Rounds: t.rounds}
	if errors.Is(err, errUninitScratch) {
		// libpcap generates such programs for a few expressions (and its
		// optimizer leaves them alone too): keep the reads as they are.
		return instructions(raw), st, nil
	}
	if err != nil {
		return nil, st, err
	}
	if len(out) > len(raw) {
		out = raw
	}
	return instructions(out), st, nil
}

// optimizeGraph runs the passes to a fixpoint and lays the program out. When
// the work budget runs out, it lays the program out as the last pass left
// it: every pass (every edge threaded) leaves a program equivalent to the
// input.
func optimizeGraph(g *graph, t *values) ([]bpf.RawInstruction, error) {
	d := &driver{g: g, t: t}
	for round := 0; round < maxRounds; round++ {
		t.rounds++
		t.work += 8 * len(g.blocks) // the passes' loops
		d.changed = false
		if err := d.analyze(true); err != nil {
			return nil, err
		}
		d.note(t.simplify(g, d.an))
		d.cleanup()

		if err := d.analyze(false); err != nil {
			return nil, err
		}
		c, all := t.rejectAll(g, d.an)
		if all {
			return []bpf.RawInstruction{{Op: cbpf.RET | cbpf.K}}, nil
		}
		d.note(c)
		d.cleanup()
		if t.spent() {
			break
		}

		if err := d.thread(); err != nil {
			return nil, err
		}
		d.cleanup()
		if t.spent() {
			break
		}

		if err := d.analyze(true); err != nil {
			return nil, err
		}
		d.note(t.deadCode(g, d.an))
		d.cleanup()

		if err := d.analyze(false); err != nil {
			return nil, err
		}
		d.note(t.peephole(g, d.an))

		if err := d.analyze(false); err != nil {
			return nil, err
		}
		d.note(t.regroupChains(g, d.an))
		if t.spent() || !d.changed {
			break
		}
	}
	return g.emit()
}

// driver is the state optimizeGraph keeps from pass to pass: the analysis
// of the graph as it is, reused by the passes until one changes the graph.
type driver struct {
	g       *graph
	t       *values
	an      *analysis // nil: the graph changed since the last analysis
	changed bool      // a pass of this round changed the graph
}

// analyze makes d.an an analysis of the graph as it is, a full one (facts,
// loads and lengths, not only registers) when full is set.
func (d *driver) analyze(full bool) (err error) {
	if d.an != nil && (d.an.full || !full) {
		return nil
	}
	if d.an != nil {
		d.t.release(d.an)
	}
	d.an, err = d.t.analyze(d.g, full)
	return err
}

// note records whether a pass changed the graph: its analysis is stale then.
func (d *driver) note(changed bool) {
	if changed {
		if d.an != nil {
			d.t.release(d.an)
		}
		d.an, d.changed = nil, true
	}
}

// cleanup simplifies the graph's shape after a pass.
func (d *driver) cleanup() {
	d.t.work += 8 * len(d.g.blocks)
	d.note(d.g.cleanup())
}

// thread threads edges one at a time (see threader) until none is left,
// the budget is spent or a bound on their number is reached.
func (d *driver) thread() error {
	if err := d.analyze(true); err != nil {
		return err
	}
	th := newThreader(d.t, d.g, d.an)
	for threads := 0; threads < 4*len(d.g.blocks)+16 && !d.t.spent(); threads++ {
		ok, err := th.threadOne()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		d.note(true)
	}
	return nil
}

// instructions converts raw instructions to x/net/bpf types.
func instructions(raw []bpf.RawInstruction) []bpf.Instruction {
	out := make([]bpf.Instruction, len(raw))
	for i, ri := range raw {
		out[i] = instruction(ri)
	}
	return out
}
