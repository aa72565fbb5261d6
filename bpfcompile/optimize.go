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
func optimize(prog []bpf.Instruction) ([]bpf.Instruction, error) {
	raw, err := optAssemble(prog)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: empty program", ErrOptimize)
	}
	back, err := optHasBackwardJump(raw)
	if err != nil {
		return nil, err
	}
	if back {
		return optInstructions(raw), nil
	}
	g, err := optBuildCFG(raw)
	if err != nil {
		return nil, err
	}
	out, err := optimizeCFG(g)
	if errors.Is(err, errOptUninitScratch) {
		// libpcap generates such programs for a few expressions (and its
		// optimizer leaves them alone too): keep the reads as they are.
		return optInstructions(raw), nil
	}
	if err != nil {
		return nil, err
	}
	if len(out) > len(raw) {
		out = raw
	}
	return optInstructions(out), nil
}

// optimizeCFG runs the passes to a fixpoint and lays the program out.
func optimizeCFG(g *optCFG) ([]bpf.RawInstruction, error) {
	t := newOptValues()
	for round := 0; round < optMaxRounds; round++ {
		changed := false
		an, err := t.analyze(g)
		if err != nil {
			return nil, err
		}
		changed = t.simplify(g, an) || changed
		changed = g.cleanup() || changed

		if an, err = t.analyze(g); err != nil {
			return nil, err
		}
		c, all := t.rejectAll(g, an)
		if all {
			return []bpf.RawInstruction{{Op: optRetK}}, nil
		}
		changed = c || changed
		changed = g.cleanup() || changed

		for threads := 0; threads < 4*len(g.blocks)+16; threads++ {
			if an, err = t.analyze(g); err != nil {
				return nil, err
			}
			if !t.threadOne(g, an) {
				break
			}
			changed = true
		}
		changed = g.cleanup() || changed

		if an, err = t.analyze(g); err != nil {
			return nil, err
		}
		changed = t.deadCode(g, an) || changed
		changed = g.cleanup() || changed

		if an, err = t.analyze(g); err != nil {
			return nil, err
		}
		changed = t.peephole(g, an) || changed

		if an, err = t.analyze(g); err != nil {
			return nil, err
		}
		changed = t.regroupChains(g, an) || changed
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
