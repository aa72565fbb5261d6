package bpftest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
)

// listingImage prints one raw instruction at position n as libpcap's
// bpf_image does; the tests use it to check ParseListing's round trip.
func listingImage(ri bpf.RawInstruction, n int) string {
	var op, operand string
	k := ri.K
	abs := func() string {
		if k >= ancillaryBase && k < ancillaryBase+64 && k%4 == 0 {
			for _, name := range []string{"proto", "type", "ifidx", "nla", "nlan", "mark",
				"queue", "hatype", "rxhash", "cpu", "xor_x", "vlan_tci", "vlanp", "poff",
				"random", "vlan_tpid"} {
				if v, _ := listingAncillary(name); v == k-ancillaryBase {
					return "[" + name + "]"
				}
			}
		}
		return fmt.Sprintf("[%d]", int32(k))
	}
	alu := map[uint16]string{0x00: "add", 0x10: "sub", 0x20: "mul", 0x30: "div",
		0x40: "or", 0x50: "and", 0x60: "lsh", 0x70: "rsh", 0x90: "mod", 0xa0: "xor"}
	jmp := map[uint16]string{0x10: "jeq", 0x20: "jgt", 0x30: "jge", 0x40: "jset"}
	switch c := ri.Op; {
	case c == 0x06:
		op, operand = "ret", fmt.Sprintf("#%d", int32(k))
	case c == 0x16:
		op = "ret"
	case c == 0x20, c == 0x28, c == 0x30:
		op, operand = map[uint16]string{0x20: "ld", 0x28: "ldh", 0x30: "ldb"}[c], abs()
	case c == 0x80:
		op, operand = "ld", "#pktlen"
	case c == 0x81:
		op, operand = "ldx", "#pktlen"
	case c == 0x40, c == 0x48, c == 0x50:
		op, operand = map[uint16]string{0x40: "ld", 0x48: "ldh", 0x50: "ldb"}[c], fmt.Sprintf("[x + %d]", int32(k))
	case c == 0x00:
		op, operand = "ld", fmt.Sprintf("#0x%x", k)
	case c == 0x01:
		op, operand = "ldx", fmt.Sprintf("#0x%x", k)
	case c == 0xb1:
		op, operand = "ldxb", fmt.Sprintf("4*([%d]&0xf)", int32(k))
	case c == 0x60, c == 0x61:
		op, operand = map[uint16]string{0x60: "ld", 0x61: "ldx"}[c], fmt.Sprintf("M[%d]", k)
	case c == 0x02, c == 0x03:
		op, operand = map[uint16]string{0x02: "st", 0x03: "stx"}[c], fmt.Sprintf("M[%d]", k)
	case c == 0x05:
		op, operand = "ja", fmt.Sprintf("%d", int32(uint32(n)+1+k))
	case c&0x07 == 0x05 && jmp[c&0xf0] != "":
		op, operand = jmp[c&0xf0], fmt.Sprintf("#0x%x", k)
		if c&0x08 != 0 {
			operand = "x"
		}
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", n, op, operand, n+1+int(ri.Jt), n+1+int(ri.Jf))
	case c == 0x84:
		op = "neg"
	case c == 0x07:
		op = "tax"
	case c == 0x87:
		op = "txa"
	case c&0x07 == 0x04 && alu[c&0xf0] != "":
		op = alu[c&0xf0]
		switch {
		case c&0x08 != 0:
			operand = "x"
		case op == "and" || op == "or" || op == "xor":
			operand = fmt.Sprintf("#0x%x", k)
		default:
			operand = fmt.Sprintf("#%d", int32(k))
		}
	default:
		op, operand = "unimp", fmt.Sprintf("0x%x", c)
	}
	return fmt.Sprintf("(%03d) %-8s %s", n, op, operand)
}

// listingText prints a whole program as listingImage does, one line each,
// with the opcode comment when withOp is set.
func listingText(tb testing.TB, prog []bpf.Instruction, withOp bool) string {
	tb.Helper()
	var b strings.Builder
	for i, ins := range prog {
		ri, err := ins.Assemble()
		if err != nil {
			tb.Fatalf("instruction %d %#v: %v", i, ins, err)
		}
		line := listingImage(ri, i)
		if withOp {
			line = fmt.Sprintf("%-50s; 0x%04x", line, ri.Op)
		}
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}

func TestParseListing(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []bpf.Instruction
	}{
		{"ether type", "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n",
			[]bpf.Instruction{
				bpf.LoadAbsolute{Off: 12, Size: 2},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x800, SkipTrue: 0, SkipFalse: 1},
				bpf.RetConstant{Val: 262144},
				bpf.RetConstant{Val: 0},
			}},
		{"msh and indirect", "(000) ldxb     4*([14]&0xf)\n(001) ld       [x + 14]\n(002) ldh      [x + 16]\n(003) ldb      [x + 0]\n(004) ret      a\n",
			[]bpf.Instruction{
				bpf.LoadMemShift{Off: 14},
				bpf.LoadIndirect{Off: 14, Size: 4},
				bpf.LoadIndirect{Off: 16, Size: 2},
				bpf.LoadIndirect{Off: 0, Size: 1},
				bpf.RetA{},
			}},
		{"scratch and misc", "(000) ld #pktlen\n(001) st M[0]\n(002) ldx M[0]\n(003) stx M[15]\n(004) tax\n(005) txa\n(006) neg\n(007) ld M[15]\n(008) ldx #0x1f\n(009) ld #0x0\n(010) ret\n",
			[]bpf.Instruction{
				bpf.LoadExtension{Num: bpf.ExtLen},
				bpf.StoreScratch{Src: bpf.RegA, N: 0},
				bpf.LoadScratch{Dst: bpf.RegX, N: 0},
				bpf.StoreScratch{Src: bpf.RegX, N: 15},
				bpf.TAX{}, bpf.TXA{}, bpf.NegateA{},
				bpf.LoadScratch{Dst: bpf.RegA, N: 15},
				bpf.LoadConstant{Dst: bpf.RegX, Val: 0x1f},
				bpf.LoadConstant{Dst: bpf.RegA, Val: 0},
				bpf.RetA{},
			}},
		{"alu", "(000) add      #4\n(001) add      x\n(002) and      #0xf0\n(003) sub      #-1\n(004) lsh      #8\n(005) rsh      x\n(006) mod      #3\n(007) xor      #0xff\n(008) ret      #1\n",
			[]bpf.Instruction{
				bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 4},
				bpf.ALUOpX{Op: bpf.ALUOpAdd},
				bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
				bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 0xffffffff},
				bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 8},
				bpf.ALUOpX{Op: bpf.ALUOpShiftRight},
				bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: 3},
				bpf.ALUOpConstant{Op: bpf.ALUOpXor, Val: 0xff},
				bpf.RetConstant{Val: 1},
			}},
		{"jumps", "(000) ja       3\n(001) jgt      x                jt 2\tjf 3\n(002) jset     #0x1fff          jt 3\tjf 3\n(003) jge      #0x5             jt 4\tjf 4\n(004) ja       0\n",
			[]bpf.Instruction{
				bpf.Jump{Skip: 2},
				bpf.JumpIfX{Cond: bpf.JumpGreaterThan, SkipTrue: 0, SkipFalse: 1},
				bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff},
				bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 5},
				bpf.Jump{Skip: 0xfffffffb},
			}},
		{"ancillary", "(000) ld       [ifidx]\n(001) ldh      [type]\n(002) ldb      [vlanp]\n(003) ldh      [vlan_tci]\n(004) ld       [proto]\n(005) ld       [-4040]\n(006) ld       [-4095]\n(007) ret      #0\n",
			[]bpf.Instruction{
				bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
				bpf.LoadAbsolute{Off: ancillaryBase + 4, Size: 2},
				bpf.LoadAbsolute{Off: ancillaryBase + 48, Size: 1},
				bpf.LoadAbsolute{Off: ancillaryBase + 44, Size: 2},
				bpf.LoadExtension{Num: bpf.ExtProto},
				bpf.LoadExtension{Num: 56},
				bpf.LoadAbsolute{Off: ancillaryBase + 1, Size: 4},
				bpf.RetConstant{Val: 0},
			}},
		{"opcode comment", "(000) ldx      #pktlen                            ; 0x0081\n(001) ret                                         ; 0x0016\n",
			[]bpf.Instruction{bpf.RawInstruction{Op: 0x81}, bpf.RetA{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseListing(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseListing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseListingErrors(t *testing.T) {
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"blank lines", "\n\n"},
		{"no number", "ldh [12]\n"},
		{"wrong number", "(001) ret #0\n"},
		{"unknown mnemonic", "(000) foo #1\n"},
		{"unimp", "(000) unimp    0xff\n"},
		{"bad scratch", "(000) st M[16]\n(001) ret #0\n"},
		{"negative scratch", "(000) ld M[-1]\n"},
		{"backward cond", "(000) ret #0\n(001) jeq #0x1 jt 0\tjf 2\n"},
		{"far cond", "(000) jeq #0x1 jt 300\tjf 1\n"},
		{"missing jf", "(000) jeq #0x1 jt 1\n"},
		{"bad hex", "(000) ld #0xzz\n"},
		{"too big", "(000) ret #4294967296\n"},
		{"ldh immediate", "(000) ldh #0x1\n"},
		{"comment mismatch", "(000) ret #0                ; 0x0016\n"},
		{"bad comment", "(000) ret #0                ; zz\n"},
		{"bad msh", "(000) ldxb 4*([14]&0xff)\n"},
		{"neg operand", "(000) neg #1\n"},
		{"ja text", "(000) ja x\n"},
		{"unknown ancillary", "(000) ld [foo]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseListing(tt.text)
			if !errors.Is(err, ErrListing) {
				t.Fatalf("ParseListing(%q) = %v, %v; want ErrListing", tt.text, got, err)
			}
			if got != nil {
				t.Errorf("program %v returned with error", got)
			}
		})
	}
}

// TestParseListingCorpus parses every expected program of the conformance
// corpus and prints it back: the text must come back byte for byte.
func TestParseListingCorpus(t *testing.T) {
	cases := Accept(t)
	n := 0
	for _, c := range cases {
		texts := []string{c.ExpectedUnopt}
		if c.ExpectedOpt != nil {
			texts = append(texts, *c.ExpectedOpt)
		}
		for _, text := range texts {
			prog, err := ParseListing(text)
			if err != nil {
				t.Errorf("%s: %v", c.Label, err)
				continue
			}
			if got, want := len(prog), strings.Count(text, "\n"); got != want {
				t.Errorf("%s: %d instructions, want %d", c.Label, got, want)
			}
			withOp := c.Label == "accept_bpf_image_0"
			if diff := cmp.Diff(trimLines(text), listingText(t, prog, withOp)); diff != "" {
				t.Errorf("%s: round trip (-want +got):\n%s", c.Label, diff)
			}
			n++
		}
	}
	t.Logf("%d listings parsed and printed back", n)
}

func FuzzParseListing(f *testing.F) {
	f.Add("(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n")
	f.Add("(000) ldxb     4*([14]&0xf)\n(001) ld       [x + 14]\n(002) ja 0\n")
	f.Add("(000) ld       [ifidx]\n(001) ldb [vlanp]\n(002) ret\n")
	f.Add("(000) ldx      #pktlen                            ; 0x0081\n")
	f.Fuzz(func(t *testing.T, text string) {
		prog, err := ParseListing(text)
		if (err == nil) == (prog == nil) {
			t.Fatalf("error %v and program %v: want exactly one", err, prog)
		}
		if err != nil {
			return
		}
		// Whatever parses assembles, prints, and parses back the same.
		again, err := ParseListing(listingText(t, prog, false))
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if diff := cmp.Diff(prog, again); diff != "" {
			t.Fatalf("reparse (-first +second):\n%s", diff)
		}
	})
}
