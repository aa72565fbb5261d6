package opt_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
)

// TestBlocksInvalid checks that Blocks.Optimize, which checks the
// statements and terminators all at once, reports the first invalid one
// in the order they were added, by block and statement, and optimizes a
// valid program.
func TestBlocksInvalid(t *testing.T) {
	ld := bpf.RawInstruction{Op: cbpf.LD | cbpf.B | cbpf.ABS, K: 23}
	type stmtsEnd struct {
		stmts []bpf.RawInstruction
		op    uint16
		jt    int
	}
	ret := func(stmts ...bpf.RawInstruction) stmtsEnd {
		return stmtsEnd{stmts: stmts, op: cbpf.RET | cbpf.K}
	}
	jeq := func(stmts ...bpf.RawInstruction) stmtsEnd {
		return stmtsEnd{stmts: stmts, op: cbpf.JMP | cbpf.JEQ | cbpf.K, jt: 1}
	}
	tests := []struct {
		name    string
		blocks  []stmtsEnd
		trailer []bpf.RawInstruction // statements after the last block
		want    string               // "" valid
	}{
		{"valid", []stmtsEnd{jeq(ld), ret()}, nil, ""},
		{"jump as statement", []stmtsEnd{jeq(ld, bpf.RawInstruction{Op: cbpf.JMP | cbpf.JA}), ret()}, nil, "block 0, statement 1: 0x05"},
		{"return as statement", []stmtsEnd{jeq(ld), ret(ld, bpf.RawInstruction{Op: cbpf.RET | cbpf.K})}, nil, "block 1, statement 1: 0x06"},
		{"unknown opcode", []stmtsEnd{jeq(bpf.RawInstruction{Op: 0xff}), ret()}, nil, "block 0, statement 0: 0xff"},
		{"scratch slot 16", []stmtsEnd{jeq(ld, bpf.RawInstruction{Op: cbpf.ST, K: 16}), ret()}, nil, "block 0, statement 1: 0x02"},
		{"ldx scratch slot 16", []stmtsEnd{jeq(bpf.RawInstruction{Op: cbpf.LDX | cbpf.MEM, K: 16}), ret()}, nil, "block 0, statement 0: 0x61"},
		{"scratch slot 15", []stmtsEnd{jeq(ld, bpf.RawInstruction{Op: cbpf.ST, K: 15}, bpf.RawInstruction{Op: cbpf.LDX | cbpf.MEM, K: 15}), ret()}, nil, ""},
		{"terminator before a later statement", []stmtsEnd{{stmts: []bpf.RawInstruction{ld}, op: cbpf.LD | cbpf.IMM}, ret(bpf.RawInstruction{Op: 0xff})}, nil, "block 0: terminator 0x00"},
		{"statement before a later terminator", []stmtsEnd{jeq(bpf.RawInstruction{Op: 0xff}), {op: cbpf.JMP | cbpf.JA}}, nil, "block 0, statement 0: 0xff"},
		{"ja as terminator", []stmtsEnd{jeq(ld), {op: cbpf.JMP | cbpf.JA}}, nil, "block 1: terminator 0x05"},
		{"invalid statement after the last block", []stmtsEnd{jeq(ld), ret()}, []bpf.RawInstruction{{Op: 0xff}}, "block 2, statement 0: 0xff"},
		{"statement after the last block", []stmtsEnd{jeq(ld), ret()}, []bpf.RawInstruction{ld}, "statements after the last block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := opt.NewBlocks(len(tt.blocks), 4)
			for _, b := range tt.blocks {
				for _, s := range b.stmts {
					p.Stmt(s)
				}
				p.End(b.op, 0, b.jt, b.jt)
			}
			for _, s := range tt.trailer {
				p.Stmt(s)
			}
			out, _, err := p.Optimize(0)
			if tt.want == "" {
				if err != nil || len(out) == 0 {
					t.Fatalf("Optimize: %v, %v; want a program", out, err)
				}
				return
			}
			if !errors.Is(err, opt.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Optimize: %v; want ErrInvalid at %q", err, tt.want)
			}
		})
	}
}
