package opt

import (
	"slices"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestNumberSkips checks what number relies on when it skips work: after
// every number call of every round, every block's luse and kill are what
// localUses finds (number works them out again only for blocks it
// changed), and deadDefs run on a copy of a block marked noDeadDefs
// removes nothing. (A mark left standing after the
// statements, the terminator or outUse changed shows here, in the round it
// happens, where the optimized program may hide it: a later round can
// still remove the definition.) The programs: the unoptimized program of
// every accept entry of the conformance corpus, and programs where a
// later round opens a removal in a block deadDefs found nothing in
// before.
func TestNumberSkips(t *testing.T) {
	progs := []struct {
		name string
		prog []bpf.Instruction
	}{
		// M[3] is 7 or 9 where the paths meet; once the branch on [0]
		// is threaded, B is reached with 7 only: peephole makes "jeq x"
		// "jeq #7" (a change of the terminator alone) and the load of X
		// is dead.
		{"constant X once threaded", []bpf.Instruction{
			bpf.LoadAbsolute{Off: 0, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 3},
			bpf.LoadConstant{Dst: bpf.RegA, Val: 7},
			bpf.StoreScratch{Src: bpf.RegA, N: 3},
			bpf.Jump{Skip: 3},
			bpf.LoadConstant{Dst: bpf.RegA, Val: 9},
			bpf.StoreScratch{Src: bpf.RegA, N: 3},
			bpf.Jump{Skip: 0},
			bpf.LoadAbsolute{Off: 0, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 4},
			bpf.LoadScratch{Dst: bpf.RegX, N: 3}, // B
			bpf.LoadAbsolute{Off: 1, Size: 4},
			bpf.JumpIfX{Cond: bpf.JumpEqual, SkipFalse: 1},
			bpf.RetConstant{Val: 1},
			bpf.RetConstant{Val: 0},
		}},
	}
	for _, c := range bpftest.Accept(t) {
		if prog, err := bpftest.ParseListing(c.ExpectedUnopt); c.Skip == "" && err == nil {
			progs = append(progs, struct {
				name string
				prog []bpf.Instruction
			}{c.Label, prog})
		}
	}
	marked := 0
	for _, p := range progs {
		marked += checkNumberSkips(t, p.name, p.prog)
	}
	if marked == 0 {
		t.Error("no block was marked: the check checked nothing")
	}
	t.Logf("%d marked blocks checked", marked)
}

// checkNumberSkips runs the optimizer's rounds on prog (run's: the
// branch phase, then the statement phase, each until a round changes
// nothing; without its cycle guard) and checks the blocks after each
// number call. It returns how many noDeadDefs marks it checked.
func checkNumberSkips(t *testing.T, name string, prog []bpf.Instruction) int {
	t.Helper()
	raw, err := assemble(prog)
	if err != nil {
		return 0
	}
	if back, err := hasBackwardJump(raw); err != nil || back {
		return 0
	}
	blocks, err := fromRaw(raw)
	if err != nil {
		return 0
	}
	o := &optimizer{}
	o.init(blocks, len(raw), Budget(len(raw)))
	shareReturns(o.b, o.iter)
	marked := 0
	alter := false
	for round := 1; round <= 50; round++ {
		o.changed, o.moved = false, false
		if o.analyze(); o.cycle {
			break
		}
		if err := o.number(alter); err != nil {
			break
		}
		for _, i := range o.order {
			b := &o.b[i]
			fresh := *b
			if fresh.localUses(); fresh.luse != b.luse || fresh.kill != b.kill {
				t.Errorf("%s: round %d (alter %v): block %d %v: reads and writes %b, %b; noted %b, %b", name, round, alter, i, b.stmts, fresh.luse, fresh.kill, b.luse, b.kill)
			}
			if !b.noDeadDefs {
				continue
			}
			marked++
			cp := *b
			cp.stmts, cp.val = slices.Clone(b.stmts), slices.Clone(b.val)
			changed := o.changed
			o.changed = false
			if o.deadDefs(&cp); o.changed {
				t.Errorf("%s: round %d (alter %v): block %d is marked, but deadDefs makes %v of %v", name, round, alter, i, cp.stmts, b.stmts)
			}
			o.changed = changed
		}
		if !alter {
			o.thread()
			o.pullups()
		}
		if !o.changed {
			if alter {
				break
			}
			alter = true
		}
	}
	return marked
}
