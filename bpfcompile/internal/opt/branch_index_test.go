package opt

import (
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// chainTestProgram returns a random program of tests chained as "or" and
// "and" chains over a few packet fields (the shapes thread and pullups
// work on), of about nb blocks.
func chainTestProgram(rng *rand.Rand, nb int) []bpf.RawInstruction {
	type test struct {
		load   bpf.RawInstruction
		op     uint16
		k      uint32
		jt, jf int // blocks; nb: accept, nb+1: reject
	}
	offs := []uint32{12, 14, 20, 23}
	ops := []uint16{cbpf.JMP | cbpf.JEQ | cbpf.K, cbpf.JMP | cbpf.JEQ | cbpf.K, cbpf.JMP | cbpf.JGT | cbpf.K, cbpf.JMP | cbpf.JSET | cbpf.K}
	tests := make([]test, nb)
	for i := range tests {
		t := &tests[i]
		t.load = bpf.RawInstruction{Op: cbpf.LD | cbpf.ABS | cbpf.H, K: offs[rng.IntN(len(offs))]}
		t.op, t.k = ops[rng.IntN(len(ops))], uint32(rng.IntN(3))
		later := func() int { return i + 1 + rng.IntN(nb+2-i-1) }
		switch rng.IntN(3) {
		case 0:
			t.jt, t.jf = nb, i+1
		case 1:
			t.jt, t.jf = i+1, nb+1
		default:
			t.jt, t.jf = later(), later()
		}
	}
	// Two instructions a test, then the two returns; jumps over at most
	// 255 instructions.
	var raw []bpf.RawInstruction
	for i, t := range tests {
		off := func(to int) uint8 { return uint8(min(255, 2*(to-i)-2)) }
		if 2*(t.jt-i)-2 > 255 || 2*(t.jf-i)-2 > 255 {
			t.jt, t.jf = min(t.jt, i+100), min(t.jf, i+100)
		}
		raw = append(raw, t.load, bpf.RawInstruction{Op: t.op, K: t.k, Jt: off(t.jt), Jf: off(t.jf)})
	}
	return append(raw, bpf.RawInstruction{Op: cbpf.RET | cbpf.K, K: 1}, bpf.RawInstruction{Op: cbpf.RET | cbpf.K})
}

// indexTestPrograms returns the unoptimized programs of the accept
// entries of the conformance corpus and random chain programs of up to
// 64 blocks.
func indexTestPrograms(t *testing.T) [][]bpf.RawInstruction {
	var progs [][]bpf.RawInstruction
	for _, c := range bpftest.Accept(t) {
		if prog, err := bpftest.ParseListing(c.ExpectedUnopt); c.Skip == "" && err == nil {
			if raw, err := assemble(prog); err == nil {
				progs = append(progs, raw)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200; i++ {
		progs = append(progs, chainTestProgram(rng, 4+rng.IntN(60)))
	}
	return progs
}

// optimizerRounds runs the branch phase's rounds on raw (at most 20),
// calling check after number in each, and reports whether it ran.
func optimizerRounds(raw []bpf.RawInstruction, check func(o *optimizer)) bool {
	if back, err := hasBackwardJump(raw); err != nil || back {
		return false
	}
	blocks, err := fromRaw(raw)
	if err != nil {
		return false
	}
	o := &optimizer{}
	o.init(blocks, len(raw), 0, registers(raw))
	shareReturns(o.b, o.iter)
	for round := 0; round < 20; round++ {
		o.changed, o.moved = false, false
		if o.analyze(); o.cycle {
			return false
		}
		if err := o.number(false); err != nil {
			return false
		}
		check(o)
		o.thread()
		o.pullups()
		if !o.changed {
			break
		}
	}
	return true
}

// TestFactIndexAgrees checks findFacts's index against the walk up the
// dominator tree: for every edge of every round and every test it could
// reach, decided answers the same through dominatingFact (large programs)
// as through walkDecided (small ones). The index numbers the dominator
// tree from subtree sizes and groups the facts by the key of each test;
// a mistake in either shows as a test decided one way and not the other.
func TestFactIndexAgrees(t *testing.T) {
	asked, decidedBoth := 0, 0
	for n, raw := range indexTestPrograms(t) {
		optimizerRounds(raw, func(o *optimizer) {
			o.findFacts()
			for _, p := range o.order {
				pb := &o.b[p]
				for slot := 0; slot < pb.nsucc(); slot++ {
					for _, c := range o.order {
						if !o.b[c].isCond() {
							continue
						}
						o.walkFacts = true
						walk := o.decided(p, slot, c)
						o.walkFacts = false
						index := o.decided(p, slot, c)
						asked++
						if walk >= 0 {
							decidedBoth++
						}
						if walk != index {
							t.Fatalf("program %d: edge %d/%d into test %d: the walk decides %d, the index %d", n, p, slot, c, walk, index)
						}
					}
				}
			}
		})
	}
	if decidedBoth == 0 {
		t.Fatal("no test was decided: the check checked nothing")
	}
	t.Logf("%d questions, %d decided", asked, decidedBoth)
}

// chainDominatedRecursive is chainDominated as a recursion: what the
// search with a stack of frames must answer and remember, block by block
// and in the same order.
func (o *optimizer) chainDominatedRecursive(head, x int32) bool {
	if x == head {
		return true
	}
	if o.domHead != head {
		o.newDominance(head)
	}
	if o.domAt[x] == o.domStamp {
		return o.domIs[x] == 1
	}
	o.work++
	o.domAt[x], o.domIs[x] = o.domStamp, 0
	is := x != o.root && o.predN[x] > 0
	for _, e := range o.predsOf(x) {
		if !is {
			break
		}
		is = o.chainDominatedRecursive(head, e/2)
	}
	o.domIs[x] = 0
	if is {
		o.domIs[x] = 1
	}
	return is
}

// TestChainDominatedFrames checks chainDominated against the recursion it
// replaces: for every head of every round and every block, asked bottom
// up from the same memory (the blocks above unanswered), the same answer,
// the same answers remembered (pullup reads them) and the same work.
func TestChainDominatedFrames(t *testing.T) {
	asked := 0
	for n, raw := range indexTestPrograms(t) {
		optimizerRounds(raw, func(o *optimizer) {
			for _, head := range o.order {
				o.newDominance(head)
				for j := len(o.order) - 1; j >= 0; j-- {
					x := o.order[j]
					at, is, work, stamp := slices.Clone(o.domAt), slices.Clone(o.domIs), o.work, o.domStamp
					got := o.chainDominated(head, x)
					gotAt, gotIs, gotWork := slices.Clone(o.domAt), slices.Clone(o.domIs), o.work
					copy(o.domAt, at)
					copy(o.domIs, is)
					o.work, o.domStamp = work, stamp
					if want := o.chainDominatedRecursive(head, x); got != want {
						t.Fatalf("program %d: head %d: block %d dominated %v, want %v", n, head, x, got, want)
					}
					if !slices.Equal(gotAt, o.domAt) || !slices.Equal(gotIs, o.domIs) || gotWork != o.work {
						t.Fatalf("program %d: head %d, block %d: remembered %v %v (work %d), want %v %v (work %d)", n, head, x, gotAt, gotIs, gotWork, o.domAt, o.domIs, o.work)
					}
					asked++
				}
			}
		})
	}
	t.Logf("%d questions", asked)
}

// TestForgetDominance checks that chainDominated answers afresh after
// forgetDominance, even for the head it answered for last: the answers it
// remembered (made wrong here on purpose) were for edges since moved.
func TestForgetDominance(t *testing.T) {
	asked := 0
	for n, raw := range indexTestPrograms(t) {
		optimizerRounds(raw, func(o *optimizer) {
			for _, head := range o.order {
				o.newDominance(head)
				want := make([]bool, len(o.b))
				for _, x := range o.order {
					want[x] = o.chainDominated(head, x)
				}
				for i := range o.domIs {
					o.domIs[i] ^= 1
				}
				o.forgetDominance()
				for _, x := range o.order {
					if got := o.chainDominated(head, x); got != want[x] {
						t.Fatalf("program %d: head %d: block %d dominated %v after forgetDominance, want %v", n, head, x, got, want[x])
					}
					asked++
				}
			}
		})
	}
	t.Logf("%d questions", asked)
}
