package opt

import (
	"fmt"
	"slices"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestNumberSkips checks what number relies on when it skips work: after
// every number call of every round, every block's luse and kill are what
// localUses finds (number works them out again only for blocks it
// changed); the values number took for each block's entry are what its
// predecessors agree on (it does not look again where none changed);
// deadDefs run on a copy of a block marked noDeadDefs removes
// nothing; number's work on a copy of a block marked numbered (which a
// later round of the phases marked skips when its values at entry are as
// they were) changes nothing and finds the values and operand noted; and
// so does its work on a copy of each block number skipped. (A mark left
// standing after the statements, the terminator or outUse changed shows
// here, in the round it happens, where the optimized program may hide
// it: a later round can still remove the definition.) The programs: the
// unoptimized program of every accept entry of the conformance corpus,
// and programs where a later round opens a removal in a block deadDefs
// found nothing in before.
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
	// P's test is decided in the statement phase (A folds to 6), a move
	// of an edge number makes itself: the next round B is left with R's
	// edge, where M[0] is 9, and "ld M[0]" becomes "ld #9". (number
	// looks at every block's values at entry then.)
	progs = append(progs, struct {
		name string
		prog []bpf.Instruction
	}{"edge moved by number", []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 5},
		bpf.LoadConstant{Dst: bpf.RegA, Val: 7}, // P
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadConstant{Dst: bpf.RegA, Val: 5},
		bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 6, SkipFalse: 4},
		bpf.LoadConstant{Dst: bpf.RegA, Val: 9}, // R
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadAbsolute{Off: 2, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 3, SkipFalse: 2},
		bpf.LoadScratch{Dst: bpf.RegA, N: 0}, // B
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 9, SkipTrue: 1, SkipFalse: 2},
		bpf.RetConstant{Val: 3},
		bpf.RetConstant{Val: 1},
		bpf.RetConstant{Val: 2},
	}})
	for _, c := range bpftest.Accept(t) {
		if prog, err := bpftest.ParseListing(c.ExpectedUnopt); c.Skip == "" && err == nil {
			progs = append(progs, struct {
				name string
				prog []bpf.Instruction
			}{c.Label, prog})
		}
	}
	var marked skipMarks
	for _, p := range progs {
		m := checkNumberSkips(t, p.name, p.prog)
		marked.deadDefs += m.deadDefs
		marked.numbered += m.numbered
		marked.skipped += m.skipped
	}
	if marked.deadDefs == 0 || marked.numbered == 0 || marked.skipped == 0 {
		t.Errorf("%+v blocks marked: the check checked nothing", marked)
	}
	t.Logf("marked blocks checked: %+v", marked)
}

// checkNumberSkips runs the optimizer's rounds on prog (run's: the
// branch phase, then the statement phase, each until a round changes
// nothing; without its cycle guard) and checks the blocks after each
// number call. It returns how many marks it checked.
func checkNumberSkips(t *testing.T, name string, prog []bpf.Instruction) (marked skipMarks) {
	t.Helper()
	raw, err := assemble(prog)
	if err != nil {
		return marked
	}
	if back, err := hasBackwardJump(raw); err != nil || back {
		return marked
	}
	blocks, err := fromRaw(raw)
	if err != nil {
		return marked
	}
	o := &optimizer{}
	o.init(blocks, len(raw), Budget(len(raw)), registers(raw))
	shareReturns(o.b, o.iter)
	alter := false
	for round := 1; round <= 50; round++ {
		o.changed, o.moved = false, false
		if o.analyze(); o.cycle {
			break
		}
		// The blocks number may skip: marked for this phase.
		mark := numberedBranch
		if alter {
			mark = numberedStmts
		}
		var entries [][]vnum
		for _, i := range o.order {
			var in []vnum
			if b := &o.b[i]; b.numbered&mark != 0 {
				in = slices.Clone(b.val[len(b.val) : 2*len(b.val)])
			}
			entries = append(entries, in)
		}
		if err := o.number(alter); err != nil {
			break
		}
		for j, i := range o.order {
			b := &o.b[i]
			// What number took for the values at entry (a block number
			// did not look at again included) must be what the
			// predecessors agree on.
			nv := len(b.val)
			want := slices.Clone(b.val[nv : 2*nv])
			if o.enter(i, want); !slices.Equal(want, b.val[nv:2*nv]) {
				t.Errorf("%s: round %d (alter %v): block %d starts with %v, number took %v", name, round, alter, i, want, b.val[nv:2*nv])
			}
			if in := entries[j]; in != nil && slices.Equal(in, b.val[len(b.val):2*len(b.val)]) {
				// Skipped: would the block have come out as it did?
				marked.skipped++
				checkNumbered(t, o, i, alter, fmt.Sprintf("%s: round %d (alter %v), skipped", name, round, alter))
			}
		}
		for _, i := range o.order {
			b := &o.b[i]
			fresh := *b
			if fresh.localUses(); fresh.luse != b.luse || fresh.kill != b.kill {
				t.Errorf("%s: round %d (alter %v): block %d %v: reads and writes %b, %b; noted %b, %b", name, round, alter, i, b.stmts, fresh.luse, fresh.kill, b.luse, b.kill)
			}
			// Marked for the statement phase, a block must pass as
			// that phase's too.
			for _, m := range [2]uint8{numberedBranch, numberedStmts} {
				if b.numbered&m != 0 {
					marked.numbered++
					checkNumbered(t, o, i, m == numberedStmts, fmt.Sprintf("%s: round %d (alter %v), marked %d", name, round, alter, b.numbered))
				}
			}
			if !b.noDeadDefs {
				continue
			}
			marked.deadDefs++
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

// skipMarks counts the marks checkNumberSkips checked.
type skipMarks struct{ deadDefs, numbered, skipped int }

// checkNumbered checks that number's work (with alter) on a copy of
// block i, marked numbered, from the values it started with changes nothing and finds
// the values and operand noted. (A value equal to no other is made anew
// each time: any such value stands for one.)
func checkNumbered(t *testing.T, o *optimizer, i int32, alter bool, where string) {
	t.Helper()
	b := &o.b[i]
	nv := len(b.val)
	cp := *b
	cp.stmts, cp.val = slices.Clone(b.stmts), slices.Clone(b.val[:2*nv])[:nv]
	changed, moved, edits, shape := o.changed, o.moved, o.edits, o.shape
	o.changed = false
	if err := o.numberBlock(&cp, cp.val[nv:2*nv], alter); err != nil {
		t.Errorf("%s: block %d is marked numbered, but number fails: %v", where, i, err)
	}
	if o.changed || o.edits != edits || o.shape != shape || cp.numbered == 0 {
		t.Errorf("%s: block %d is marked numbered, but number changes it: %v to %v", where, i, b.stmts, cp.stmts)
	}
	o.changed, o.moved, o.edits, o.shape = changed, moved, edits, shape
	if !slices.Equal(cp.stmts, b.stmts) || cp.op != b.op || cp.k != b.k || cp.jt != b.jt || cp.jf != b.jf {
		t.Errorf("%s: block %d is marked numbered, but number makes %v 0x%x %d of %v 0x%x %d", where, i, cp.stmts, cp.op, cp.k, b.stmts, b.op, b.k)
	}
	unique := func(v vnum) bool { return o.vals.keys[v].code == nop }
	same := func(v, w vnum) bool { return v == w || unique(v) && unique(w) }
	for a := range nv {
		if !same(cp.val[a], b.val[a]) {
			t.Errorf("%s: block %d is marked numbered, but register %d leaves with value %d, noted %d", where, i, a, cp.val[a], b.val[a])
		}
	}
	if !same(cp.oval, b.oval) {
		t.Errorf("%s: block %d is marked numbered, but its operand is value %d, noted %d", where, i, cp.oval, b.oval)
	}
}
