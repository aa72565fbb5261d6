package bpfcompile

import (
	"testing"

	"golang.org/x/net/bpf"
)

// TestStillValid checks the guard Compile puts around the optimizer: an
// optimized program the kernel's checker refuses is not used when the
// unoptimized one passes; the length limit alone does not count (the
// optimizer shortens some programs that are too long, Compile then says
// whether they fit).
func TestStillValid(t *testing.T) {
	ok := []bpf.Instruction{bpf.LoadAbsolute{Off: 12, Size: 2}, bpf.RetA{}}
	divZero := []bpf.Instruction{bpf.LoadAbsolute{Off: 12, Size: 2}, bpf.ALUOpConstant{Op: bpf.ALUOpDiv, Val: 0}, bpf.RetA{}}
	long := func(n int) []bpf.Instruction {
		p := make([]bpf.Instruction, n)
		for i := range p {
			p[i] = bpf.RetA{}
		}
		return p
	}
	tests := []struct {
		name    string
		in, out []bpf.Instruction
		want    bool
	}{
		{"valid in, valid out", ok, ok, true},
		{"valid in, invalid out", ok, divZero, false},
		{"invalid in: nothing to keep", divZero, divZero, true},
		{"too long in, shorter out", long(5000), ok, true},
		{"too long in, too long out", long(5000), long(4500), true},
		{"too long in, invalid out", long(5000), divZero, false},
		{"valid in, too long out", ok, long(4500), true},
	}
	for _, tt := range tests {
		if got := stillValid(tt.in, tt.out); got != tt.want {
			t.Errorf("%s: stillValid = %v, want %v", tt.name, got, tt.want)
		}
	}
}
