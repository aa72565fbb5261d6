package bpfcompile

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// optMaxRounds bounds the optimizer's fixpoint loop; every round that
// changes something makes the program smaller or its edges longer, so real
// programs settle in a few rounds.
const optMaxRounds = 64

// The optimizer's work budget, in units of optValues.work: about one
// instruction, edge or fact looked at, some 25-65 ns each. The corpus's
// programs need at most 170 units per instruction, long generated chains
// ("port 1 or ... or port 100", 3164 instructions) some 360. The budget is
// optWorkPerInsn per instruction of the input, at least optWorkMin and at
// most optWorkMax: whatever its shape, a program that the compiler's size
// guards let through is optimized in a quarter of a second at most.
const (
	optWorkPerInsn = 2000
	optWorkMin     = 1 << 20
	optWorkMax     = 4 << 20
)

// optimize returns a program equivalent to prog on every packet and no longer
// than it.
//
// The program is cut into basic blocks. A forward dataflow over the graph
// gives every point the value numbers in A, X and M[] (a value number names
// a computation: the same packet load, constant or arithmetic on the same
// operands), the facts the branches taken so far establish about values,
// the loads known to succeed and a lower bound of the packet length. With
// them the optimizer
//   - drops instructions that write a register with the value it already
//     holds (a header field loaded again), folds constants and turns X
//     operands known to be constants into immediates;
//   - decides branches whose outcome the path implies and threads edges
//     past such branches (after "ether type is IPv4", a later "is it IPv6"
//     on that path is known false);
//   - removes instructions whose result nothing reads and that cannot end
//     the program early (a packet load that might run off the packet stays);
//   - sends every path that can only return 0 to one "ret #0", merges
//     identical blocks, bypasses empty ones and lays the blocks out again in
//     their original order, with long jumps where a branch would skip more
//     than 255 instructions.
//
// A program that rejects every packet becomes "ret #0". A program with a
// backward jump (libpcap's protochain loop) is returned unchanged.
//
// The passes run in rounds until a round changes nothing. The analysis is
// redone after a pass that changed the graph (only the registers' values
// for the passes that need no more), except inside jump threading, which
// redirects one edge at a time and keeps the analysis up to date
// incrementally (opt_thread.go). The optimizer counts its work and stops
// when its budget runs out, returning the program as the last pass left
// it.
func optimize(prog []bpf.Instruction) ([]bpf.Instruction, error) {
	return optimizeWithin(prog, optBudget(len(prog)))
}

// optBudget is the work budget for a program of n instructions.
func optBudget(n int) int {
	return min(optWorkMax, max(optWorkMin, optWorkPerInsn*n))
}

// optimizeWithin is optimize with a work budget (0: unbounded).
func optimizeWithin(prog []bpf.Instruction, budget int) ([]bpf.Instruction, error) {
	out, _, err := optimizeReport(prog, budget)
	return out, err
}

// optimizeReport is optimizeWithin that also reports whether the
// optimized program failed the kernel's checker and the input was
// returned instead (a bug in a pass, which tests look for).
func optimizeReport(prog []bpf.Instruction, budget int) (out []bpf.Instruction, broken bool, err error) {
	raw, err := optAssemble(prog)
	if err != nil {
		return nil, false, err
	}
	if len(raw) == 0 {
		return nil, false, fmt.Errorf("%w: empty program", ErrOptimize)
	}
	back, err := optHasBackwardJump(raw)
	if err != nil {
		return nil, false, err
	}
	if back {
		return optInstructions(raw), false, nil
	}
	g, err := optBuildCFG(raw)
	if err != nil {
		return nil, false, err
	}
	t := newOptValues()
	t.budget = budget
	opt, err := optimizeCFG(g, t)
	if errors.Is(err, errOptUninitScratch) {
		// libpcap generates such programs for a few expressions (and its
		// optimizer leaves them alone too): keep the reads as they are.
		return optInstructions(raw), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !optStillValid(raw, opt) {
		return optInstructions(raw), true, nil
	}
	if len(opt) > len(raw) {
		opt = raw
	}
	return optInstructions(opt), false, nil
}

// optStillValid reports whether out passes the kernel's checker when in
// does. The passes keep programs valid; this guards the daemon against a
// bug in one of them: the unoptimized program is used instead.
func optStillValid(in, out []bpf.RawInstruction) bool {
	lengthOnly := func(p []bpf.RawInstruction, err error) bool {
		return len(p) > maxInstructions && errors.Is(err, ErrProgramLength)
	}
	if err := checkRaw(in); err != nil && !lengthOnly(in, err) {
		return true // nothing to keep
	}
	err := checkRaw(out)
	return err == nil || lengthOnly(out, err)
}

// optimizeCFG runs the passes to a fixpoint and lays the program out. When
// the work budget runs out, it lays the program out as the last pass left
// it: every pass (every edge threaded) leaves a program equivalent to the
// input.
func optimizeCFG(g *optCFG, t *optValues) ([]bpf.RawInstruction, error) {
	var (
		an      *optAnalysis // nil: the graph changed since the last analysis
		changed bool
	)
	analyze := func(full bool) (err error) {
		if an != nil && (an.full || !full) {
			return nil
		}
		if an != nil {
			t.release(an)
		}
		an, err = t.analyze(g, full)
		return err
	}
	note := func(c bool) {
		if c {
			if an != nil {
				t.release(an)
			}
			an, changed = nil, true
		}
	}
	cleanup := func() bool {
		t.work += 8 * len(g.blocks)
		return g.cleanup()
	}
	for round := 0; round < optMaxRounds; round++ {
		t.rounds++
		t.work += 8 * len(g.blocks) // the passes' loops
		changed = false
		if err := analyze(true); err != nil {
			return nil, err
		}
		note(t.simplify(g, an))
		note(cleanup())

		if err := analyze(false); err != nil {
			return nil, err
		}
		c, all := t.rejectAll(g, an)
		if all {
			return []bpf.RawInstruction{{Op: optRetK}}, nil
		}
		note(c)
		note(cleanup())
		if t.spent() {
			break
		}

		if err := analyze(true); err != nil {
			return nil, err
		}
		th := newOptThreader(t, g, an)
		for threads := 0; threads < 4*len(g.blocks)+16 && !t.spent(); threads++ {
			ok, err := th.threadOne()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			note(true)
		}
		note(cleanup())
		if t.spent() {
			break
		}

		if err := analyze(true); err != nil {
			return nil, err
		}
		note(t.deadCode(g, an))
		note(cleanup())

		if err := analyze(false); err != nil {
			return nil, err
		}
		note(t.peephole(g, an))

		if err := analyze(false); err != nil {
			return nil, err
		}
		note(t.regroupChains(g, an))
		if t.spent() {
			break
		}
		if !changed {
			break
		}
	}
	return g.emit()
}

// optInstructions converts raw instructions to x/net/bpf types.
func optInstructions(raw []bpf.RawInstruction) []bpf.Instruction {
	out := make([]bpf.Instruction, len(raw))
	for i, ri := range raw {
		out[i] = optInstruction(ri)
	}
	return out
}
