package bpfcompile

import (
	"errors"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

func TestCheck(t *testing.T) {
	ret0 := bpf.RetConstant{Val: 0}
	long := make([]bpf.Instruction, vmMaxProgramLen+1)
	for i := range long {
		long[i] = ret0
	}
	ok4096 := long[:vmMaxProgramLen]
	tests := []struct {
		name  string
		prog  []bpf.Instruction
		want  error // nil: accepted
		index int   // instruction at fault, -1 for none
	}{
		{"minimal", []bpf.Instruction{ret0}, nil, -1},
		{"4096 instructions", ok4096, nil, -1},
		{"empty", nil, ErrProgramLength, -1},
		{"4097 instructions", long, ErrProgramLength, -1},
		{"typical", vmTestProgram(t), nil, -1},
		{"unknown opcode", []bpf.Instruction{bpf.RawInstruction{Op: 0x08}, ret0}, ErrInvalidInstruction, 0},
		{"ret x", []bpf.Instruction{bpf.RawInstruction{Op: cbpf.RET | 0x08}}, ErrInvalidInstruction, 0},
		{"ends without ret", []bpf.Instruction{ret0, bpf.LoadConstant{Val: 1}}, ErrNoReturn, 1},
		{"ends with ja", []bpf.Instruction{ret0, bpf.Jump{Skip: 0}}, ErrBackwardJump, 1},
		{"ret a at end", []bpf.Instruction{bpf.LoadConstant{Val: 1}, bpf.RetA{}}, nil, -1},
		{"division by zero", []bpf.Instruction{bpf.ALUOpConstant{Op: bpf.ALUOpDiv, Val: 0}, ret0}, ErrDivisionByZero, 0},
		{"modulo by zero", []bpf.Instruction{ret0, bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: 0}, ret0}, ErrDivisionByZero, 1},
		{"division by x", []bpf.Instruction{bpf.ALUOpX{Op: bpf.ALUOpDiv}, ret0}, nil, -1},
		{"shift 31", []bpf.Instruction{bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 31}, ret0}, nil, -1},
		{"shift 32", []bpf.Instruction{bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 32}, ret0}, ErrShiftRange, 0},
		{"scratch 16", []bpf.Instruction{bpf.RawInstruction{Op: cbpf.ST, K: 16}, ret0}, ErrScratchIndex, 0},
		{"scratch load before store", []bpf.Instruction{bpf.LoadScratch{N: 3}, ret0}, ErrScratchUninitialized, 0},
		{"scratch store then load", []bpf.Instruction{bpf.StoreScratch{N: 3}, bpf.LoadScratch{Dst: bpf.RegX, N: 3}, ret0}, nil, -1},
		{"scratch stored on one path only", []bpf.Instruction{
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipTrue: 1}, // 0: → 2 or 1
			bpf.StoreScratch{N: 1},                               // 1
			bpf.LoadScratch{N: 1},                                // 2: not stored when coming from 0
			ret0,
		}, ErrScratchUninitialized, 2},
		{"scratch stored on both paths", []bpf.Instruction{
			bpf.StoreScratch{N: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipTrue: 1},
			bpf.StoreScratch{Src: bpf.RegX, N: 2},
			bpf.LoadScratch{N: 1},
			ret0,
		}, nil, -1},
		{"scratch via ja", []bpf.Instruction{
			bpf.Jump{Skip: 1},
			bpf.StoreScratch{N: 1},
			bpf.LoadScratch{N: 1},
			ret0,
		}, ErrScratchUninitialized, 2},
		// The kernel keeps the set of valid slots across a ret: an
		// instruction after a ret inherits it, whatever jumps to it.
		{"scratch after ret (kernel quirk)", []bpf.Instruction{
			bpf.StoreScratch{N: 1},
			ret0,
			bpf.LoadScratch{N: 1},
			ret0,
		}, nil, -1},
		{"jump out of range", []bpf.Instruction{bpf.JumpIf{Cond: bpf.JumpEqual, SkipFalse: 1}, ret0}, ErrJumpOutOfRange, 0},
		{"jump to last", []bpf.Instruction{bpf.JumpIf{Cond: bpf.JumpEqual, SkipTrue: 1}, ret0, ret0}, nil, -1},
		{"ja forward", []bpf.Instruction{bpf.Jump{Skip: 1}, ret0, ret0}, nil, -1},
		{"ja past end", []bpf.Instruction{bpf.Jump{Skip: 2}, ret0, ret0}, ErrBackwardJump, 0},
		{"ja backward", vmTestProtochain(), ErrBackwardJump, 9},
		{"known ancillary", []bpf.Instruction{vmTestAncLoad(ancVLANTagPresent, 1), ret0}, nil, -1},
		{"ancillary xor x", []bpf.Instruction{vmTestAncLoad(ancAluXorX, 4), ret0}, nil, -1},
		{"unknown ancillary", []bpf.Instruction{vmTestAncLoad(ancMax, 4), ret0}, ErrUnknownAncillary, 0},
		{"misaligned ancillary", []bpf.Instruction{vmTestAncLoad(2, 2), ret0}, ErrUnknownAncillary, 0},
		{"negative offset below SKF_AD_OFF", []bpf.Instruction{bpf.LoadAbsolute{Off: 0xffe00000, Size: 1}, ret0}, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.prog)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				if !KernelCanRun(tt.prog) {
					t.Error("KernelCanRun = false")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
			if KernelCanRun(tt.prog) {
				t.Error("KernelCanRun = true")
			}
			var ie *InstructionError
			switch {
			case tt.index < 0 && errors.As(err, &ie):
				t.Errorf("Check = %v, want no instruction index", err)
			case tt.index >= 0 && (!errors.As(err, &ie) || ie.Index != tt.index):
				t.Errorf("Check = %v, want it at instruction %d", err, tt.index)
			}
		})
	}
}

// TestCheckImpliesVM: every program Check accepts, NewVM accepts too.
func TestCheckImpliesVM(t *testing.T) {
	r := vmTestRand()
	for range 5000 {
		raw := vmTestRandomProgram(r, 1+r.IntN(20), true)
		vmTestMutate(r, raw)
		if checkRaw(raw) != nil {
			continue
		}
		if _, err := newVMRaw(raw); err != nil {
			t.Fatalf("Check accepts %v, NewVM: %v", raw, err)
		}
	}
}
