package bpfcompile

import (
	"errors"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
)

// ErrOptimize is returned, wrapped with the instruction at fault, when the
// optimizer is given a program that is not valid classic BPF.
var ErrOptimize = opt.ErrInvalid

// optimize runs the optimizer (internal/opt) on prog with the work budget
// for its length.
func optimize(prog []bpf.Instruction) ([]bpf.Instruction, error) {
	out, _, err := optimizeReport(prog, opt.Budget(len(prog)))
	return out, err
}

// optimizeReport is optimize with a work budget (0: unbounded) that also
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
