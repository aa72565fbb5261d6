package opt_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

func listingOf(lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "(%03d) %s\n", i, l)
	}
	return b.String()
}

func TestOptimize(t *testing.T) {
	tests := []struct {
		name      string
		in, want  string
		unchanged bool
	}{
		{
			name: "repeated load and test",
			in: listingOf("ldh [12]", "jeq #0x800 jt 2\tjf 5", "ldh [12]", "jeq #0x800 jt 4\tjf 5",
				"ret #1", "ret #0"),
			want: listingOf("ldh [12]", "jeq #0x800 jt 2\tjf 3", "ret #1", "ret #0"),
		},
		{
			name: "rejects all",
			in:   listingOf("ldh [12]", "jeq #0x800 jt 2\tjf 3", "ret #0", "ret #0"),
			want: listingOf("ret #0"),
		},
		{
			// libpcap's optimizer drops loads nothing reads, even those
			// that can run off the packet.
			name: "dead load goes",
			in:   listingOf("ldh [100]", "ldh [12]", "jeq #0x800 jt 3\tjf 4", "ret #1", "ret #0"),
			want: listingOf("ldh [12]", "jeq #0x800 jt 2\tjf 3", "ret #1", "ret #0"),
		},
		{
			// "port 80 or 443": the tests of the source port come together,
			// before the load of the destination port, as libpcap does.
			name: "or-ed tests of one value pulled together",
			in: listingOf("ldh [34]", "jeq #0x50 jt 8\tjf 2", "ldh [36]", "jeq #0x50 jt 8\tjf 4",
				"ldh [34]", "jeq #0x1bb jt 8\tjf 6", "ldh [36]", "jeq #0x1bb jt 8\tjf 9", "ret #1", "ret #0"),
			want: listingOf("ldh [34]", "jeq #0x50 jt 6\tjf 2", "jeq #0x1bb jt 6\tjf 3", "ldh [36]",
				"jeq #0x50 jt 6\tjf 5", "jeq #0x1bb jt 6\tjf 7", "ret #1", "ret #0"),
		},
		{
			name: "dead load within known length goes",
			in:   listingOf("ld [20]", "jeq #0x1 jt 2\tjf 4", "ldh [12]", "ret #1", "ret #0"),
			want: listingOf("ld [20]", "jeq #0x1 jt 2\tjf 3", "ret #1", "ret #0"),
		},
		{
			name: "constants fold",
			in: listingOf("ld #2", "add #3", "tax", "txa", "jeq #0x5 jt 6\tjf 7",
				"ret #0", "ret #7", "ret #0"),
			want: listingOf("ret #7"),
		},
		{
			name: "scratch constants become immediates",
			in: listingOf("ld #0xcd", "st M[2]", "ldx M[2]", "ldb [14]", "jeq x jt 5\tjf 6",
				"ret #1", "ret #0"),
			want: listingOf("ldb [14]", "jeq #0xcd jt 2\tjf 3", "ret #1", "ret #0"),
		},
		{
			name: "ipv4 known, ipv6 test threaded",
			in: listingOf(
				"ldh [12]", "jeq #0x800 jt 2\tjf 4",
				"ldb [23]", "jeq #0x6 jt 8\tjf 4",
				"ldh [12]", "jeq #0x86dd jt 6\tjf 9",
				"ldb [20]", "jeq #0x6 jt 8\tjf 9",
				"ret #1", "ret #0"),
			want: listingOf(
				"ldh [12]", "jeq #0x800 jt 2\tjf 4",
				"ldb [23]", "jeq #0x6 jt 7\tjf 8",
				"jeq #0x86dd jt 5\tjf 8",
				"ldb [20]", "jeq #0x6 jt 7\tjf 8",
				"ret #1", "ret #0"),
		},
		{
			name: "and then jeq 0 becomes jset",
			in:   listingOf("ldb [0]", "and #0xc", "jeq #0x0 jt 3\tjf 4", "ret #1", "ret #0"),
			want: listingOf("ldb [0]", "jset #0xc jt 2\tjf 3", "ret #0", "ret #1"),
		},
		{
			name: "index offset folds into the load",
			in: listingOf("ldxb 4*([14]&0xf)", "ld #0xab", "add x", "tax", "ldb [x + 14]",
				"jeq #0xcd jt 6\tjf 7", "ret #1", "ret #0"),
			want: listingOf("ldxb 4*([14]&0xf)", "ldb [x + 185]", "jeq #0xcd jt 3\tjf 4", "ret #1", "ret #0"),
		},
		{
			name: "ret a of a constant",
			in:   listingOf("ld #0x40", "ret a"),
			want: listingOf("ret #64"),
		},
		{
			name:      "backward jump left alone",
			in:        listingOf("ldb [0]", "jeq #0x1 jt 2\tjf 3", "ja 0", "ret #0"),
			unchanged: true,
		},
		{
			name:      "scratch read before store left alone",
			in:        listingOf("ld M[1]", "jeq #0x1 jt 2\tjf 3", "ret #1", "ret #0"),
			unchanged: true,
		},
		{
			name: "statements before a return go",
			in:   listingOf("ldb [0]", "div x", "ret #1"),
			want: listingOf("ret #1"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := bpftest.ParseListing(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := optimize(in)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if tt.unchanged {
				want = tt.in
			}
			wantProg, err := bpftest.ParseListing(want)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(listing(t, wantProg), listing(t, got)); diff != "" {
				t.Errorf("optimize (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptimizeErrors(t *testing.T) {
	tests := []struct {
		name string
		prog []bpf.Instruction
	}{
		{"empty", nil},
		{"nil instruction", []bpf.Instruction{nil}},
		{"unknown opcode", []bpf.Instruction{bpf.RawInstruction{Op: 0xff}, bpf.RetA{}}},
		{"jump out of program", []bpf.Instruction{bpf.Jump{Skip: 5}, bpf.RetA{}}},
		{"branch out of program", []bpf.Instruction{bpf.JumpIf{Cond: bpf.JumpEqual, SkipTrue: 9}, bpf.RetA{}}},
		{"falls off the end", []bpf.Instruction{bpf.RetA{}, bpf.TAX{}}},
		{"scratch out of range", []bpf.Instruction{bpf.StoreScratch{Src: bpf.RegA, N: 16}, bpf.RetA{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := optimize(tt.prog)
			if !errors.Is(err, opt.ErrInvalid) || got != nil {
				t.Fatalf("optimize = %v, %v; want ErrInvalid", got, err)
			}
		})
	}
}

// TestOptimizeLongBranch checks that a branch the optimizer stretches past
// 255 instructions goes through a ja.
func TestOptimizeLongBranch(t *testing.T) {
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x800, SkipTrue: 0, SkipFalse: 1},
		bpf.Jump{Skip: 1},
		bpf.Jump{Skip: 600}, // to the second "ret #0" below
	}
	for i := 0; i < 300; i++ {
		prog = append(prog, bpf.LoadAbsolute{Off: uint32(14 + i), Size: 1},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(i), SkipTrue: 0, SkipFalse: uint8(min(255, 2*(299-i)+1))})
	}
	prog = append(prog, bpf.RetConstant{Val: 1}, bpf.RetConstant{Val: 0})
	got, err := optimize(prog)
	if err != nil {
		t.Fatal(err)
	}
	if err := bpfcompile.Check(got); err != nil {
		t.Fatalf("optimized program fails the checker: %v", err)
	}
	if len(got) > len(prog) {
		t.Fatalf("optimized program longer: %d > %d", len(got), len(prog))
	}
	sameResults(t, prog, got, rand.New(rand.NewPCG(1, 2)), 400)
}

// fuzzProgram decodes a loop-free program from fuzz input: valid
// opcodes only, forward jumps in range, ending in a return.
func fuzzProgram(data []byte) []bpf.Instruction {
	ops := []uint16{0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x00, 0x60, 0x80, 0x01, 0x61, 0x81, 0xb1,
		0x02, 0x03, 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x74,
		0x84, 0x94, 0xa4, 0xac, 0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x06, 0x16, 0x07, 0x87}
	n := len(data) / 4
	if n > 64 {
		n = 64
	}
	var raw []bpf.RawInstruction
	for i := 0; i < n; i++ {
		d := data[4*i : 4*i+4]
		op := ops[int(d[0])%len(ops)]
		ri := bpf.RawInstruction{Op: op, K: uint32(d[1])}
		left := n - i // instructions after this one, the final ret included
		switch {
		case op == 0x02 || op == 0x03 || op == 0x60 || op == 0x61:
			ri.K %= 16
		case op == 0x05:
			ri.K = uint32(int(d[2]) % left)
		case op&0x07 == 0x05:
			ri.Jt, ri.Jf = uint8(int(d[2])%left), uint8(int(d[3])%left)
			ri.K = uint32(d[1]) >> 4
		case op&0x07 == 0x04 && (op&0xf0 == 0x60 || op&0xf0 == 0x70):
			ri.K %= 32
		case op&0x07 == 0x04 && (op&0xf0 == 0x30 || op&0xf0 == 0x90) && ri.K == 0:
			ri.K = 3
		case op == 0x20 && d[2]&1 == 1:
			ri.K = cbpf.AncillaryBase + uint32(d[3]%16)*4
		}
		raw = append(raw, ri)
	}
	raw = append(raw, bpf.RawInstruction{Op: cbpf.RET | cbpf.A})
	prog := make([]bpf.Instruction, len(raw))
	for i, ri := range raw {
		prog[i] = ri
	}
	return prog
}

func FuzzOptimize(f *testing.F) {
	f.Add([]byte{0, 12, 0, 0, 32, 8, 1, 2, 41, 0, 0, 0, 42, 1, 0, 0})
	f.Add([]byte{12, 14, 0, 0, 1, 20, 0, 0, 5, 9, 3, 0, 44, 2, 0, 0, 44, 5, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		prog := fuzzProgram(data)
		start := time.Now()
		got, _, err := opt.Optimize(prog, opt.Budget(len(prog)))
		if err != nil {
			t.Fatalf("optimize: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("optimize took %v on %d instructions", d, len(prog))
		}
		if len(got) > len(prog) {
			t.Fatalf("longer: %d > %d", len(got), len(prog))
		}
		if bpfcompile.Check(prog) == nil {
			if err := bpfcompile.Check(got); err != nil {
				t.Fatalf("checker rejects the optimized program: %v\n%s", err, listing(t, got))
			}
		}
		seed := uint64(len(data))
		for _, c := range data {
			seed = seed*31 + uint64(c)
		}
		pkts := bpftest.Packets(rand.New(rand.NewPCG(seed, 3)), assemble(t, prog), nil, true, 64)
		ra, rb := run(t, prog, pkts), run(t, got, pkts)
		raw := assemble(t, prog)
		for i := range ra {
			// Where a load of the input runs off the packet the optimizer
			// may, as libpcap's, give another result.
			if ra[i] != rb[i] && !bpftest.Faults(raw, pkts[i].Data, pkts[i].WireLen, pkts[i].Meta) {
				t.Fatalf("packet %d %x: %d before, %d after\n--in\n%s--out\n%s", i, pkts[i].Data, ra[i], rb[i],
					listing(t, prog), listing(t, got))
			}
		}
	})
}

func BenchmarkOptimizeCorpus(b *testing.B) {
	var progs [][]bpf.Instruction
	for _, c := range bpftest.Accept(b) {
		p, err := bpftest.ParseListing(c.ExpectedUnopt)
		if err != nil {
			b.Fatal(err)
		}
		progs = append(progs, p)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range progs {
			if _, err := optimize(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(progs)), "ns/program")
}
