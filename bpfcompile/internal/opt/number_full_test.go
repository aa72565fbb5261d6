package opt

import (
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestNumberSkipsChangeNothing optimizes programs twice, with number's
// skips (the blocks it changed nothing in, whose values at entry are as
// they were) and with number working every block each round, the values
// numbered anew each round (as before the skips), and checks
// that the programs, errors, work and rounds are the same: the unoptimized
// program of every accept entry of the conformance corpus, and random
// programs with scratch slots, constants to fold and branches to decide,
// with the compiler's budget and with budgets that run out.
func TestNumberSkipsChangeNothing(t *testing.T) {
	var progs [][]bpf.RawInstruction
	for _, c := range bpftest.Accept(t) {
		prog, err := bpftest.ParseListing(c.ExpectedUnopt)
		if c.Skip != "" || err != nil {
			continue
		}
		if raw, err := assemble(prog); err == nil {
			progs = append(progs, raw)
		}
	}
	// Short programs (a constant X of 0 that makes "jset x" "jset #0"
	// showed that a change peephole does not count must not leave a mark)
	// and long ones.
	rng := rand.New(rand.NewPCG(14, 1))
	for range 4000 {
		progs = append(progs, randomProgram(rng, 4+rng.IntN(40)))
	}
	for range 1000 {
		progs = append(progs, randomProgram(rng, 20+rng.IntN(100)))
	}
	compared := 0
	for _, raw := range progs {
		for _, budget := range []int{Budget(len(raw)), 300, 2000} {
			got, gotSt, gotErr := optimizeRaw(raw, budget, false)
			want, wantSt, wantErr := optimizeRaw(raw, budget, true)
			if !slices.Equal(got, want) || gotSt != wantSt || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
				t.Fatalf("budget %d: %v\nwith skips: %v %+v %v\nwithout:    %v %+v %v", budget, raw, got, gotSt, gotErr, want, wantSt, wantErr)
			}
			compared++
		}
	}
	t.Logf("%d optimizations compared", compared)
}

// randomProgram returns a loop-free program of n instructions and a
// return: loads, scratch slots, constants (0 among them, to fold and to
// divide by) and forward branches.
func randomProgram(rng *rand.Rand, n int) []bpf.RawInstruction {
	consts := []uint32{0, 1, 2, 3, 6, 9, 255, 0xffffffff}
	k := func() uint32 { return consts[rng.IntN(len(consts))] }
	sizes := []uint16{cbpf.B, cbpf.H, cbpf.W}
	alus := []uint16{cbpf.ADD, cbpf.SUB, cbpf.MUL, cbpf.DIV, cbpf.AND, cbpf.OR, cbpf.LSH, cbpf.RSH, cbpf.XOR, cbpf.MOD}
	jumps := []uint16{cbpf.JEQ, cbpf.JGT, cbpf.JGE, cbpf.JSET}
	prog := make([]bpf.RawInstruction, 0, n+1)
	for i := range n {
		var ri bpf.RawInstruction
		switch rng.IntN(16) {
		case 0, 1, 2:
			ri = bpf.RawInstruction{Op: cbpf.LD | cbpf.ABS | sizes[rng.IntN(3)], K: uint32(rng.IntN(24))}
		case 3:
			ri = bpf.RawInstruction{Op: cbpf.LD | cbpf.IND | sizes[rng.IntN(3)], K: uint32(rng.IntN(8))}
		case 4:
			ri = bpf.RawInstruction{Op: cbpf.LD | cbpf.IMM, K: k()}
		case 5:
			ri = bpf.RawInstruction{Op: cbpf.LDX | cbpf.IMM, K: k()}
		case 6:
			ri = bpf.RawInstruction{Op: cbpf.LDX | cbpf.MSH | cbpf.B, K: uint32(rng.IntN(16))}
		case 7:
			ri = bpf.RawInstruction{Op: []uint16{cbpf.ST, cbpf.STX}[rng.IntN(2)], K: uint32(rng.IntN(3))}
		case 8:
			ri = bpf.RawInstruction{Op: []uint16{cbpf.LD, cbpf.LDX}[rng.IntN(2)] | cbpf.MEM, K: uint32(rng.IntN(3))}
		case 9:
			ri = bpf.RawInstruction{Op: cbpf.ALU | cbpf.K | alus[rng.IntN(len(alus))], K: k() & 31}
		case 10:
			ri = bpf.RawInstruction{Op: cbpf.ALU | cbpf.X | alus[rng.IntN(len(alus))]}
		case 11:
			ri = bpf.RawInstruction{Op: cbpf.MISC | []uint16{cbpf.TAX, cbpf.TXA}[rng.IntN(2)]}
		case 12:
			ri = bpf.RawInstruction{Op: cbpf.RET | cbpf.K, K: []uint32{0, 262144}[rng.IntN(2)]}
		default:
			// A branch to one of the next instructions (the return at n
			// included).
			left := n - i
			op := cbpf.JMP | jumps[rng.IntN(len(jumps))]
			if rng.IntN(5) == 0 {
				op |= cbpf.X
			}
			ri = bpf.RawInstruction{Op: op, K: k(), Jt: uint8(rng.IntN(min(left, 6))), Jf: uint8(rng.IntN(min(left, 6)))}
		}
		prog = append(prog, ri)
	}
	return append(prog, bpf.RawInstruction{Op: cbpf.RET | cbpf.K, K: 1})
}
