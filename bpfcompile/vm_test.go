package bpfcompile

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// vmTestAncLoad returns an absolute load of the ancillary value at offset off.
func vmTestAncLoad(off uint32, size int) bpf.Instruction {
	return bpf.LoadAbsolute{Off: cbpf.AncillaryBase + off, Size: size}
}

func TestVMRun(t *testing.T) {
	pkt := []byte{0x45, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09}
	retA := bpf.RetA{}
	meta := &Meta{
		Protocol: 0x0800, PktType: 4, IfIndex: 10, HAType: 1, Mark: 7, Queue: 3,
		RXHash: 0xdeadbeef, CPU: 1, VLANTCI: 0x200a, VLANPresent: true, VLANTPID: 0x88a8,
		PayOffset: 34, Random: 42,
	}
	tests := []struct {
		name string
		prog []bpf.Instruction
		pkt  []byte
		wire int
		meta *Meta
		want uint32
	}{
		{"ret k", []bpf.Instruction{bpf.RetConstant{Val: 262144}}, pkt, 10, nil, 262144},
		{"ld word", []bpf.Instruction{bpf.LoadAbsolute{Off: 6, Size: 4}, retA}, pkt, 10, nil, 0x06070809},
		{"ld word past caplen", []bpf.Instruction{bpf.LoadAbsolute{Off: 7, Size: 4}, retA}, pkt, 100, nil, 0},
		{"ld word huge offset", []bpf.Instruction{bpf.LoadAbsolute{Off: 0xfffffffe, Size: 4}, retA}, pkt, 10, nil, 0},
		{"ldh last", []bpf.Instruction{bpf.LoadAbsolute{Off: 8, Size: 2}, retA}, pkt, 10, nil, 0x0809},
		{"ldh past caplen", []bpf.Instruction{bpf.LoadAbsolute{Off: 9, Size: 2}, retA}, pkt, 10, nil, 0},
		{"ldb last", []bpf.Instruction{bpf.LoadAbsolute{Off: 9, Size: 1}, retA}, pkt, 10, nil, 9},
		{"ldb past caplen", []bpf.Instruction{bpf.LoadAbsolute{Off: 10, Size: 1}, retA}, pkt, 10, nil, 0},
		{"ld indirect", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 2}, bpf.LoadIndirect{Off: 4, Size: 4}, retA}, pkt, 10, nil, 0x06070809},
		{"ld indirect past caplen", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 3}, bpf.LoadIndirect{Off: 4, Size: 4}, retA}, pkt, 10, nil, 0},
		{"ld indirect X wraps", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 0xffffffff}, bpf.LoadIndirect{Off: 2, Size: 1}, retA}, pkt, 10, nil, 0},
		{"ldh indirect", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 1}, bpf.LoadIndirect{Off: 7, Size: 2}, retA}, pkt, 10, nil, 0x0809},
		{"ldb indirect", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 1}, bpf.LoadIndirect{Off: 8, Size: 1}, retA}, pkt, 10, nil, 9},
		{"ldb indirect past", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 1}, bpf.LoadIndirect{Off: 9, Size: 1}, retA}, pkt, 10, nil, 0},
		{"ldxb msh", []bpf.Instruction{bpf.LoadMemShift{Off: 0}, bpf.TXA{}, retA}, pkt, 10, nil, 20},
		{"ldxb msh past caplen", []bpf.Instruction{bpf.LoadMemShift{Off: 10}, bpf.RetConstant{Val: 1}}, pkt, 10, nil, 0},
		{"len is wire length", []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtLen}, retA}, pkt, 1500, nil, 1500},
		{"ldx len", []bpf.Instruction{bpf.RawInstruction{Op: cbpf.LDX | cbpf.W | cbpf.LEN}, bpf.TXA{}, retA}, pkt, 77, nil, 77},
		{"scratch", []bpf.Instruction{bpf.LoadConstant{Val: 5}, bpf.StoreScratch{N: 15}, bpf.LoadConstant{Val: 0}, bpf.LoadScratch{Dst: bpf.RegX, N: 15}, bpf.TXA{}, retA}, pkt, 10, nil, 5},
		{"stx", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 9}, bpf.StoreScratch{Src: bpf.RegX, N: 3}, bpf.LoadScratch{N: 3}, retA}, pkt, 10, nil, 9},
		{"div by constant zero", []bpf.Instruction{bpf.LoadConstant{Val: 5}, bpf.ALUOpConstant{Op: bpf.ALUOpDiv, Val: 0}, retA}, pkt, 10, nil, 0},
		{"mod by constant zero", []bpf.Instruction{bpf.LoadConstant{Val: 5}, bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: 0}, retA}, pkt, 10, nil, 0},
		{"div by X zero", []bpf.Instruction{bpf.LoadConstant{Val: 5}, bpf.ALUOpX{Op: bpf.ALUOpDiv}, bpf.RetConstant{Val: 1}}, pkt, 10, nil, 0},
		{"mod by X zero", []bpf.Instruction{bpf.LoadConstant{Val: 5}, bpf.ALUOpX{Op: bpf.ALUOpMod}, bpf.RetConstant{Val: 1}}, pkt, 10, nil, 0},
		{"div", []bpf.Instruction{bpf.LoadConstant{Val: 17}, bpf.ALUOpConstant{Op: bpf.ALUOpDiv, Val: 5}, retA}, pkt, 10, nil, 3},
		{"mod X", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 5}, bpf.LoadConstant{Val: 17}, bpf.ALUOpX{Op: bpf.ALUOpMod}, retA}, pkt, 10, nil, 2},
		{"neg", []bpf.Instruction{bpf.LoadConstant{Val: 1}, bpf.NegateA{}, retA}, pkt, 10, nil, 0xffffffff},
		{"sub wraps", []bpf.Instruction{bpf.LoadConstant{Val: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 2}, retA}, pkt, 10, nil, 0xffffffff},
		{"lsh 31", []bpf.Instruction{bpf.LoadConstant{Val: 3}, bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 31}, retA}, pkt, 10, nil, 0x80000000},
		{"lsh X 32 is 0", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 32}, bpf.LoadConstant{Val: 3}, bpf.ALUOpX{Op: bpf.ALUOpShiftLeft}, retA}, pkt, 10, nil, 0},
		{"rsh X 40 is 0", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 40}, bpf.LoadConstant{Val: 0xffffffff}, bpf.ALUOpX{Op: bpf.ALUOpShiftRight}, retA}, pkt, 10, nil, 0},
		{"and or xor", []bpf.Instruction{bpf.LoadConstant{Val: 0xf0}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x3c}, bpf.ALUOpConstant{Op: bpf.ALUOpOr, Val: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpXor, Val: 0xff}, retA}, pkt, 10, nil, 0xce},
		{"jeq taken", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x45, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, pkt, 10, nil, 2},
		{"jgt not taken", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: 0x45, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, pkt, 10, nil, 1},
		{"jge taken", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 0x45, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, pkt, 10, nil, 2},
		{"jset", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x02, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, pkt, 10, nil, 1},
		{"jeq x", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 7}, bpf.LoadConstant{Val: 7}, bpf.JumpIfX{Cond: bpf.JumpEqual, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, pkt, 10, nil, 2},
		{"jset x", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 8}, bpf.LoadConstant{Val: 7}, bpf.JumpIfX{Cond: bpf.JumpBitsSet, SkipTrue: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, pkt, 10, nil, 1},
		{"ja", []bpf.Instruction{bpf.Jump{Skip: 1}, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 2}}, pkt, 10, nil, 2},
		{"tax txa", []bpf.Instruction{bpf.LoadConstant{Val: 3}, bpf.TAX{}, bpf.LoadConstant{Val: 4}, bpf.TXA{}, retA}, pkt, 10, nil, 3},
		{"protocol", []bpf.Instruction{vmTestAncLoad(ancProtocol, 4), retA}, pkt, 10, meta, 0x0800},
		{"pkttype halfword", []bpf.Instruction{vmTestAncLoad(ancPktType, 2), retA}, pkt, 10, meta, 4},
		{"ifindex", []bpf.Instruction{vmTestAncLoad(ancIfIndex, 4), retA}, pkt, 10, meta, 10},
		{"mark", []bpf.Instruction{vmTestAncLoad(ancMark, 4), retA}, pkt, 10, meta, 7},
		{"queue", []bpf.Instruction{vmTestAncLoad(ancQueue, 4), retA}, pkt, 10, meta, 3},
		{"hatype", []bpf.Instruction{vmTestAncLoad(ancHAType, 4), retA}, pkt, 10, meta, 1},
		{"rxhash", []bpf.Instruction{vmTestAncLoad(ancRXHash, 4), retA}, pkt, 10, meta, 0xdeadbeef},
		{"cpu", []bpf.Instruction{vmTestAncLoad(ancCPU, 4), retA}, pkt, 10, meta, 1},
		{"vlan tci halfword", []bpf.Instruction{vmTestAncLoad(ancVLANTag, 2), retA}, pkt, 10, meta, 0x200a},
		{"vlan present byte", []bpf.Instruction{vmTestAncLoad(ancVLANTagPresent, 1), retA}, pkt, 10, meta, 1},
		{"vlan absent", []bpf.Instruction{vmTestAncLoad(ancVLANTagPresent, 1), retA}, pkt, 10, &Meta{}, 0},
		{"vlan tpid", []bpf.Instruction{vmTestAncLoad(ancVLANTPID, 4), retA}, pkt, 10, meta, 0x88a8},
		{"pay offset", []bpf.Instruction{vmTestAncLoad(ancPayOffset, 4), retA}, pkt, 10, meta, 34},
		{"random", []bpf.Instruction{vmTestAncLoad(ancRandom, 4), retA}, pkt, 10, meta, 42},
		{"ancillary without meta rejects", []bpf.Instruction{vmTestAncLoad(ancVLANTagPresent, 1), bpf.RetConstant{Val: 1}}, pkt, 10, nil, 0},
		{"alu xor x", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 0xff}, bpf.LoadConstant{Val: 0x0f}, vmTestAncLoad(ancAluXorX, 4), retA}, pkt, 10, nil, 0xf0},
		{"unknown ancillary is out of range", []bpf.Instruction{vmTestAncLoad(1, 1), bpf.RetConstant{Val: 1}}, pkt, 10, meta, 0},
		{"empty packet", []bpf.Instruction{bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.RetConstant{Val: 1}}, nil, 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vm, err := NewVM(tt.prog)
			if err != nil {
				t.Fatalf("NewVM: %v", err)
			}
			if got := vm.Run(tt.pkt, tt.wire, tt.meta); got != tt.want {
				t.Errorf("Run = %#x, want %#x", got, tt.want)
			}
		})
	}
}

// vmTestProtochain walks a chain of 8-byte headers whose first byte is the
// next header type and second the length in 8-byte units minus one, until a
// type other than 0 or the end: a backward ja, as libpcap's protochain.
func vmTestProtochain() []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadConstant{Dst: bpf.RegX, Val: 0},              // 0: X = offset
		bpf.LoadIndirect{Off: 0, Size: 1},                    // 1: A = type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1}, // 2
		bpf.RetA{},                        // 3: return the final type
		bpf.LoadIndirect{Off: 1, Size: 1}, // 4: A = len
		bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 3},
		bpf.ALUOpX{Op: bpf.ALUOpAdd},
		bpf.TAX{},
		bpf.Jump{Skip: 0xfffffff7}, // 9: ja 1
	}
}

func TestVMBackwardJump(t *testing.T) {
	vm, err := NewVM(vmTestProtochain())
	if err != nil {
		t.Fatal(err)
	}
	if !vm.Loops() {
		t.Error("Loops() = false for a backward ja")
	}
	if err := Check(vmTestProtochain()); !errors.Is(err, ErrBackwardJump) {
		t.Errorf("Check = %v, want ErrBackwardJump", err)
	}
	// Three headers of type 0 (lengths 0, 1, 0 → 8, 16, 8 bytes), then 6.
	pkt := make([]byte, 40)
	pkt[0], pkt[1] = 0, 0
	pkt[8], pkt[9] = 0, 1
	pkt[24], pkt[25] = 0, 0
	pkt[32] = 6
	if got := vm.Run(pkt, len(pkt), nil); got != 6 {
		t.Errorf("Run = %d, want 6", got)
	}
	// A chain that runs off the captured bytes rejects.
	if got := vm.Run(pkt[:30], 40, nil); got != 0 {
		t.Errorf("Run truncated = %d, want 0", got)
	}

	// An endless loop stops after MaxBackwardJumps and rejects.
	loop, err := NewVM([]bpf.Instruction{bpf.LoadConstant{Val: 1}, bpf.Jump{Skip: 0xfffffffe}})
	if err != nil {
		t.Fatal(err)
	}
	if got := loop.Run(pkt, len(pkt), nil); got != 0 {
		t.Errorf("endless loop returned %d, want 0", got)
	}
}

func TestVMNetlinkAttr(t *testing.T) {
	// Two attributes after a 4-byte prefix: type 1 (len 5, padded to 8),
	// type 2 nested with a type-7 attribute inside.
	pkt := []byte{
		0xaa, 0xbb, 0xcc, 0xdd,
		5, 0, 1, 0, 0x11, 0, 0, 0,
		12, 0, 2, 0x80, 8, 0, 7, 0, 1, 2, 3, 4,
	}
	find := func(typ uint32, nested bool, start uint32) uint32 {
		off := uint32(ancNLAttr)
		if nested {
			off = ancNLAttrNest
		}
		vm, err := NewVM([]bpf.Instruction{
			bpf.LoadConstant{Dst: bpf.RegX, Val: typ},
			bpf.LoadConstant{Val: start},
			vmTestAncLoad(off, 4),
			bpf.RetA{},
		})
		if err != nil {
			t.Fatal(err)
		}
		return vm.Run(pkt, len(pkt), &Meta{})
	}
	tests := []struct {
		name   string
		typ    uint32
		nested bool
		start  uint32
		want   uint32
	}{
		{"first", 1, false, 4, 4},
		{"second, flags masked", 2, false, 4, 12},
		{"missing", 3, false, 4, 0},
		{"start past end", 1, false, 100, 0},
		{"nested", 7, true, 12, 16},
		{"nested missing", 1, true, 12, 0},
	}
	for _, tt := range tests {
		if got := find(tt.typ, tt.nested, tt.start); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestNewVMErrors(t *testing.T) {
	tests := []struct {
		name  string
		prog  []bpf.Instruction
		want  error
		index int
	}{
		{"empty", nil, ErrEmptyProgram, -1},
		{"unknown opcode", []bpf.Instruction{bpf.RawInstruction{Op: 0xff}, bpf.RetA{}}, ErrInvalidInstruction, 0},
		{"ret x is not classic BPF", []bpf.Instruction{bpf.RawInstruction{Op: cbpf.RET | 0x08}}, ErrInvalidInstruction, 0},
		{"scratch 16", []bpf.Instruction{bpf.RawInstruction{Op: cbpf.ST, K: 16}, bpf.RetA{}}, ErrScratchIndex, 0},
		{"scratch struct 16", []bpf.Instruction{bpf.LoadConstant{}, bpf.LoadScratch{N: 16}, bpf.RetA{}}, ErrScratchIndex, 1},
		{"jump past end", []bpf.Instruction{bpf.JumpIf{Cond: bpf.JumpEqual, SkipTrue: 1}, bpf.RetA{}}, ErrJumpOutOfRange, 0},
		{"ja past end", []bpf.Instruction{bpf.Jump{Skip: 1}, bpf.RetA{}}, ErrJumpOutOfRange, 0},
		{"ja before start", []bpf.Instruction{bpf.RetA{}, bpf.Jump{Skip: 0xfffffffd}}, ErrJumpOutOfRange, 1},
		{"falls off end", []bpf.Instruction{bpf.RetA{}, bpf.LoadConstant{}}, ErrFallsOffEnd, 1},
		{"nil instruction", []bpf.Instruction{nil}, ErrInvalidInstruction, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVM(tt.prog)
			if !errors.Is(err, tt.want) {
				t.Fatalf("NewVM error = %v, want %v", err, tt.want)
			}
			var ie *InstructionError
			if tt.index >= 0 && (!errors.As(err, &ie) || ie.Index != tt.index) {
				t.Errorf("NewVM error = %v, want it at instruction %d", err, tt.index)
			}
		})
	}
}

// vmTestProgram is libpcap's optimized program for
// "tcp port 80 and host 10.0.0.1" on Ethernet.
func vmTestProgram(tb testing.TB) []bpf.Instruction {
	tb.Helper()
	prog, err := bpftest.ParseListing(`(000) ldh      [12]
(001) jeq      #0x86dd          jt 17	jf 2
(002) jeq      #0x800           jt 3	jf 17
(003) ldb      [23]
(004) jeq      #0x6             jt 5	jf 17
(005) ldh      [20]
(006) jset     #0x1fff          jt 17	jf 7
(007) ldxb     4*([14]&0xf)
(008) ldh      [x + 14]
(009) jeq      #0x50            jt 11	jf 10
(010) ldh      [x + 16]
(011) jeq      #0x50            jt 12	jf 17
(012) ld       [26]
(013) jeq      #0xa000001       jt 16	jf 14
(014) ld       [30]
(015) jeq      #0xa000001       jt 16	jf 17
(016) ret      #262144
(017) ret      #0
`)
	if err != nil {
		tb.Fatal(err)
	}
	return prog
}

// vmTestPacket is an Ethernet/IPv4/TCP SYN from 10.0.0.1:40000 to
// 10.0.0.2:80.
func vmTestPacket() []byte {
	p := make([]byte, 54)
	copy(p[0:], []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00})
	ip := p[14:]
	ip[0], ip[9] = 0x45, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	confTCP := ip[20:]
	binary.BigEndian.PutUint16(confTCP[0:], 40000)
	binary.BigEndian.PutUint16(confTCP[2:], 80)
	confTCP[12], confTCP[13] = 0x50, 0x02
	return p
}

func TestVMTypical(t *testing.T) {
	vm, err := NewVM(vmTestProgram(t))
	if err != nil {
		t.Fatal(err)
	}
	pkt := vmTestPacket()
	if got := vm.Run(pkt, len(pkt), nil); got != 262144 {
		t.Errorf("Run = %d, want 262144", got)
	}
	pkt[14+20+3] = 81
	if got := vm.Run(pkt, len(pkt), nil); got != 0 {
		t.Errorf("Run on port 81 = %d, want 0", got)
	}
}

func TestVMZeroAllocs(t *testing.T) {
	vm, err := NewVM(vmTestProgram(t))
	if err != nil {
		t.Fatal(err)
	}
	pkt := vmTestPacket()
	meta := &Meta{VLANPresent: true}
	n := testing.AllocsPerRun(1000, func() {
		vm.Run(pkt, len(pkt), meta)
	})
	if n != 0 {
		t.Errorf("Run allocates %v times per packet, want 0", n)
	}
}

// vmTestRandomProgram returns a program of n instructions with valid opcodes, jumps
// inside the program, and a ret at the end; loads may reach past the packet.
func vmTestRandomProgram(r *rand.Rand, n int, withAncillary bool) []bpf.RawInstruction {
	var codes []uint16
	for c := uint16(0); c < 0x100; c++ {
		if vmDecodeOp(c) != vmOpInvalid && vmDecodeOp(c) != vmOpJa {
			codes = append(codes, c)
		}
	}
	prog := make([]bpf.RawInstruction, n)
	for i := range prog {
		c := codes[r.IntN(len(codes))]
		op := vmDecodeOp(c)
		in := bpf.RawInstruction{Op: c, K: r.Uint32N(64)}
		switch {
		case op.usesScratch():
			in.K = r.Uint32N(vmScratchWords)
		case op.isCondJump():
			left := n - i - 2
			if left < 0 {
				in = bpf.RawInstruction{Op: cbpf.RET, K: 1}
				break
			}
			in.Jt, in.Jf = uint8(r.IntN(min(left, 255)+1)), uint8(r.IntN(min(left, 255)+1))
			in.K = r.Uint32N(256)
		case op == vmOpLdxImm, op == vmOpLdImm:
			in.K = r.Uint32N(40)
		case op.isAbsLoad() && withAncillary && r.IntN(4) == 0:
			in.K = cbpf.AncillaryBase + 4*r.Uint32N(16)
		}
		if c&cbpf.X != 0 && (c&7 == cbpf.ALU || c&7 == cbpf.JMP) {
			in.K = 0 // the X forms ignore k; keep them canonical
		}
		switch op {
		case vmOpRetA, vmOpTax, vmOpTxa, vmOpNeg, vmOpLdLen, vmOpLdxLen:
			in.K = 0
		}
		prog[i] = in
	}
	if vmDecodeOp(prog[n-1].Op) != vmOpRetK && vmDecodeOp(prog[n-1].Op) != vmOpRetA {
		prog[n-1] = bpf.RawInstruction{Op: cbpf.RET | cbpf.A}
	}
	return prog
}

// TestVMAgainstXNetBPF runs random programs without ancillary loads in our
// VM and in golang.org/x/net/bpf's, which must agree where x/net/bpf's has
// the same semantics (it treats the packet length as the wire length).
func TestVMAgainstXNetBPF(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pkts := [][]byte{nil, {1}, vmTestPacket(), vmTestPacket()[:20], make([]byte, 64)}
	for i := range pkts[4] {
		pkts[4][i] = byte(i * 7)
	}
	compared := 0
	for range 3000 {
		raw := vmTestRandomProgram(r, 2+r.IntN(30), false)
		ours, err := newVMRaw(raw)
		if err != nil {
			t.Fatalf("newVMRaw(%v): %v", raw, err)
		}
		insns, ok := bpf.Disassemble(raw)
		if !ok || !vmTestSameRaw(insns, raw) {
			continue // x/net/bpf cannot represent it (it reads ldx #len as ld #len)
		}
		theirs, err := bpf.NewVM(insns)
		if err != nil {
			continue // constant division by zero, which ours runs (and rejects)
		}
		for _, p := range pkts {
			want, err := theirs.Run(p)
			if err != nil {
				continue
			}
			if got := ours.Run(p, len(p), nil); got != uint32(want) {
				t.Fatalf("program %v on %x: ours %d, x/net/bpf %d", insns, p, got, want)
			}
			compared++
		}
	}
	if compared < 5000 {
		t.Errorf("only %d comparisons", compared)
	}
}

func BenchmarkVM(b *testing.B) {
	vm, err := NewVM(vmTestProgram(b))
	if err != nil {
		b.Fatal(err)
	}
	match := vmTestPacket()
	miss := vmTestPacket()
	miss[13] = 0x06 // ARP: rejected after two instructions
	for _, bc := range []struct {
		name string
		pkt  []byte
	}{{"match", match}, {"miss", miss}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.pkt)))
			for b.Loop() {
				vm.Run(bc.pkt, len(bc.pkt), nil)
			}
		})
	}
}

// BenchmarkXNetBPFVM is the same program in golang.org/x/net/bpf's VM, for
// comparison.
func BenchmarkXNetBPFVM(b *testing.B) {
	vm, err := bpf.NewVM(vmTestProgram(b))
	if err != nil {
		b.Fatal(err)
	}
	pkt := vmTestPacket()
	b.ReportAllocs()
	for b.Loop() {
		vm.Run(pkt)
	}
}

// vmTestRand returns a deterministic random source for the tests.
func vmTestRand() *rand.Rand { return rand.New(rand.NewPCG(7, 11)) }

// vmTestMutate changes one field of one instruction of raw at random: the
// programs it makes are mostly invalid in one way, which exercises the
// checker's rules one at a time.
func vmTestMutate(r *rand.Rand, raw []bpf.RawInstruction) {
	i := r.IntN(len(raw))
	switch r.IntN(6) {
	case 0:
		raw[i].Op = uint16(r.IntN(256))
	case 1:
		raw[i].Jt = uint8(r.IntN(256))
	case 2:
		raw[i].Jf = uint8(r.IntN(8))
	case 3:
		raw[i].K = r.Uint32()
	case 4:
		raw[i].K = cbpf.AncillaryBase + r.Uint32N(80)
	case 5:
		raw[i].K = r.Uint32N(40)
	}
}

// vmTestSameRaw reports whether insns assemble back to exactly raw.
func vmTestSameRaw(insns []bpf.Instruction, raw []bpf.RawInstruction) bool {
	again, err := bpf.Assemble(insns)
	if err != nil || len(again) != len(raw) {
		return false
	}
	for i := range raw {
		if again[i] != raw[i] {
			return false
		}
	}
	return true
}
