//go:build linux

package afpacket

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
)

func TestCookedProgram(t *testing.T) {
	ad := func(e bpf.Extension) uint32 { return skfAdOff + uint32(e) }
	const (
		ldh  = 0x28 // BPF_LD|BPF_H|BPF_ABS
		ldb  = 0x30 // BPF_LD|BPF_B|BPF_ABS
		ldw  = 0x20 // BPF_LD|BPF_W|BPF_ABS
		ldi  = 0x40 // BPF_LD|BPF_W|BPF_IND
		msh  = 0xb1 // BPF_LDX|BPF_B|BPF_MSH
		jeq  = 0x15 // BPF_JMP|BPF_JEQ|BPF_K
		ret  = 0x06 // BPF_RET|BPF_K
		ldxi = 0x01 // BPF_LDX|BPF_W|BPF_IMM: not a packet load
	)
	tests := []struct {
		name    string
		framing framing
		in      []bpf.RawInstruction
		want    []bpf.RawInstruction // nil: rejected
	}{
		{
			name:    "SLL2 protocol, ifindex, packet type and payload",
			framing: framingSLL2,
			in: []bpf.RawInstruction{
				{Op: ldh, K: 0}, {Op: jeq, K: 0x800, Jf: 5},
				{Op: ldw, K: 4}, {Op: ldb, K: 10},
				{Op: msh, K: 20}, {Op: ldi, K: 22}, {Op: ldxi, K: 20},
				{Op: ret, K: 262144}, {Op: ret},
			},
			want: []bpf.RawInstruction{
				{Op: ldh, K: ad(bpf.ExtProto)}, {Op: jeq, K: 0x800, Jf: 5},
				{Op: ldw, K: ad(bpf.ExtInterfaceIndex)}, {Op: ldb, K: ad(bpf.ExtType)},
				{Op: msh, K: 0}, {Op: ldi, K: 2}, {Op: ldxi, K: 20},
				{Op: ret, K: 262144}, {Op: ret},
			},
		},
		{
			name:    "SLL packet type and protocol",
			framing: framingSLL,
			in:      []bpf.RawInstruction{{Op: ldh, K: 0}, {Op: ldh, K: 14}, {Op: ldb, K: 16 + 9}, {Op: ret}},
			want:    []bpf.RawInstruction{{Op: ldh, K: ad(bpf.ExtType)}, {Op: ldh, K: ad(bpf.ExtProto)}, {Op: ldb, K: 9}, {Op: ret}},
		},
		{
			name:    "ancillary and negative offsets kept",
			framing: framingSLL2,
			in:      []bpf.RawInstruction{{Op: ldh, K: ad(bpf.ExtVLANTag)}, {Op: ldb, K: 0xfff00000 + 9}, {Op: ret}},
			want:    []bpf.RawInstruction{{Op: ldh, K: ad(bpf.ExtVLANTag)}, {Op: ldb, K: 0xfff00000 + 9}, {Op: ret}},
		},
		{
			name:    "SLL2 hatype has no kernel equivalent",
			framing: framingSLL2,
			in:      []bpf.RawInstruction{{Op: ldh, K: 8}, {Op: ret}},
		},
		{
			name:    "SLL address has no kernel equivalent",
			framing: framingSLL,
			in:      []bpf.RawInstruction{{Op: ldw, K: 6}, {Op: ret}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]bpf.RawInstruction(nil), tt.in...)
			got, err := cookedProgram(tt.in, tt.framing)
			if tt.want == nil {
				if !errors.Is(err, ErrFilterRejected) {
					t.Fatalf("cookedProgram = %v, %v; want ErrFilterRejected", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("program (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(orig, tt.in); diff != "" {
				t.Errorf("input modified (-was +now):\n%s", diff)
			}
		})
	}
}
