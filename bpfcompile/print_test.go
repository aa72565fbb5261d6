package bpfcompile

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

func TestImage(t *testing.T) {
	tests := []struct {
		in   bpf.Instruction
		n    int
		want string
	}{
		{bpf.LoadAbsolute{Off: 12, Size: 2}, 0, "(000) ldh      [12]"},
		{bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x800, SkipFalse: 3}, 1, "(001) jeq      #0x800           jt 2\tjf 5"},
		{bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x800, SkipFalse: 3}, 1, "(001) jeq      #0x800           jt 5\tjf 2"},
		{bpf.LoadMemShift{Off: 14}, 7, "(007) ldxb     4*([14]&0xf)"},
		{bpf.LoadIndirect{Off: 16, Size: 2}, 10, "(010) ldh      [x + 16]"},
		{bpf.RetConstant{Val: 262144}, 16, "(016) ret      #262144"},
		{bpf.RetConstant{Val: 0xffffffff}, 3, "(003) ret      #-1"},
		{bpf.RetA{}, 3, "(003) ret"},
		{bpf.TAX{}, 1234, "(1234) tax"},
		{bpf.LoadExtension{Num: bpf.ExtLen}, 0, "(000) ld       #pktlen"},
		{bpf.LoadAbsolute{Off: cbpf.AncillaryBase + ancVLANTagPresent, Size: 1}, 0, "(000) ldb      [vlanp]"},
		{bpf.LoadAbsolute{Off: cbpf.AncillaryBase + ancVLANTag, Size: 2}, 0, "(000) ldh      [vlan_tci]"},
		{bpf.LoadExtension{Num: bpf.ExtInterfaceIndex}, 0, "(000) ld       [ifidx]"},
		{bpf.LoadAbsolute{Off: cbpf.AncillaryBase + ancPktType, Size: 2}, 0, "(000) ldh      [type]"},
		{bpf.LoadAbsolute{Off: cbpf.AncillaryBase + 2, Size: 2}, 0, "(000) ldh      [-4094]"},
		{bpf.LoadAbsolute{Off: cbpf.AncillaryBase + ancMax, Size: 4}, 0, "(000) ld       [-4032]"},
		{bpf.LoadConstant{Val: 0xab}, 0, "(000) ld       #0xab"},
		{bpf.LoadConstant{Dst: bpf.RegX, Val: 0}, 0, "(000) ldx      #0x0"},
		{bpf.LoadScratch{N: 2}, 0, "(000) ld       M[2]"},
		{bpf.LoadScratch{Dst: bpf.RegX, N: 2}, 0, "(000) ldx      M[2]"},
		{bpf.StoreScratch{Src: bpf.RegX, N: 15}, 0, "(000) stx      M[15]"},
		{bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x1fff}, 0, "(000) and      #0x1fff"},
		{bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 0xffffffff}, 0, "(000) sub      #-1"},
		{bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2}, 0, "(000) lsh      #2"},
		{bpf.ALUOpX{Op: bpf.ALUOpMod}, 0, "(000) mod      x"},
		{bpf.NegateA{}, 0, "(000) neg"},
		{bpf.Jump{Skip: 3}, 5, "(005) ja       9"},
		{bpf.Jump{Skip: 0xfffffff0}, 20, "(020) ja       5"},
		{bpf.JumpIfX{Cond: bpf.JumpGreaterThan, SkipTrue: 0, SkipFalse: 1}, 4, "(004) jgt      x                jt 5\tjf 6"},
		{bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0xffffffff}, 4, "(004) jset     #0xffffffff      jt 5\tjf 5"},
		{bpf.RawInstruction{Op: 0xff}, 0, "(000) unimp    0xff"},
		{bpf.RawInstruction{Op: 0x55, Jt: 1}, 0, "(000) unimp    0x55             jt 2\tjf 1"},
	}
	for _, tt := range tests {
		r, err := tt.in.Assemble()
		if err != nil {
			t.Fatalf("%v: %v", tt.in, err)
		}
		if got := Image(r, tt.n); got != tt.want {
			t.Errorf("Image(%v, %d)\n got %q\nwant %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// printTestEnumerate prints bpf_image of every valid opcode the way libpcap's
// filtertest does for the corpus entry accept_bpf_image_0: jt 1, jf 0,
// k 15, numbered in order, the returns last.
func printTestEnumerate() string {
	var b strings.Builder
	found := 0
	emit := func(ret bool) {
		for code := 0; code <= 0xffff; code++ {
			if (code&7 == cbpf.RET) != ret {
				continue
			}
			img := Image(bpf.RawInstruction{Op: uint16(code), Jt: 1, Jf: 0, K: 15}, found)
			if strings.Contains(img, "unimp") {
				continue
			}
			fmt.Fprintf(&b, "%-50s; 0x%04x\n", img, code)
			found++
		}
	}
	emit(false)
	emit(true)
	return b.String()
}

// TestImageCorpus prints every expected program of the conformance corpus
// back from its parsed form: the printer must reproduce libpcap's text byte
// for byte, and the enumeration of all opcodes must match
// accept_bpf_image_0.
func TestImageCorpus(t *testing.T) {
	c := confLoadCorpus(t)
	programs, lines := 0, 0
	for _, a := range c.Accept {
		if a.Special != "" {
			if a.ExpectedUnopt == nil {
				t.Fatalf("%s: no expected output", a.Label)
			}
			if got := printTestEnumerate(); got != *a.ExpectedUnopt {
				t.Errorf("%s: bpf_image enumeration differs:\n%s", a.Label, printTestLineDiff(*a.ExpectedUnopt, got))
			}
			continue
		}
		for _, text := range []*string{a.ExpectedOpt, a.ExpectedUnopt} {
			if text == nil {
				continue
			}
			prog, err := bpftest.ParseListing(*text)
			if err != nil {
				t.Errorf("%s: ParseListing: %v", a.Label, err)
				continue
			}
			var b bytes.Buffer
			if err := Dump(&b, prog, DumpListing); err != nil {
				t.Errorf("%s: Dump: %v", a.Label, err)
				continue
			}
			if b.String() != *text {
				t.Errorf("%s: printed listing differs:\n%s", a.Label, printTestLineDiff(*text, b.String()))
			}
			programs++
			lines += len(prog)
		}
	}
	t.Logf("%d programs, %d instructions printed as libpcap does", programs, lines)
	if programs < 4000 {
		t.Errorf("only %d programs in the corpus", programs)
	}
}

// printTestLineDiff returns the first differing line of two texts, "-want +got".
func printTestLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n-%q\n+%q", i+1, wl, gl)
		}
	}
	return "(no difference)"
}

func TestDumpFormats(t *testing.T) {
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x800, SkipFalse: 1},
		bpf.RetConstant{Val: 262144},
		bpf.RetConstant{Val: 0},
	}
	tests := []struct {
		f    DumpFormat
		want string
	}{
		{DumpListing, "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n"},
		{DumpC, "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000800 },\n{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n"},
		{DumpDecimal, "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Dump(&b, prog, tt.f); err != nil {
			t.Fatalf("%v: %v", tt.f, err)
		}
		if b.String() != tt.want {
			t.Errorf("%v:\n got %q\nwant %q", tt.f, b.String(), tt.want)
		}
	}
	if err := Dump(&bytes.Buffer{}, prog, DumpFormat(0)); err == nil {
		t.Error("Dump with format 0: no error")
	}
	if err := Dump(&bytes.Buffer{}, []bpf.Instruction{bpf.LoadScratch{N: 99}}, DumpListing); err == nil {
		t.Error("Dump of M[99]: no error")
	}
}

// TestDumpAgainstTcpdump compares -dd and -ddd with the real tcpdump: it
// compiles a few expressions for a savefile (no privileges needed), and our
// printer must print tcpdump's -d listing in the other two formats exactly as
// tcpdump does.
func TestDumpAgainstTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed")
	}
	savefile := confPath(t, "savefiles", "vrrp.pcap") // EN10MB
	run := func(flag, expr string) string {
		out, err := exec.Command(tcpdump, "-r", savefile, flag, expr).Output()
		if err != nil {
			t.Fatalf("tcpdump %s %q: %v", flag, expr, err)
		}
		return string(out)
	}
	for _, expr := range []string{
		"ip",
		"tcp port 80 and host 198.18.0.7",
		"vlan 20 and (icmp or ip6[40] == 128)",
		"ip[2:2] - ((ip[0]&0xf)<<2) > 100 or ether[0] & 1 != 0",
		"ip6 protochain 6",
		"len > 1000 and not arp",
	} {
		raw, err := printTestParseDDD(run("-ddd", expr))
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		for _, f := range []DumpFormat{DumpListing, DumpC, DumpDecimal} {
			var b bytes.Buffer
			if err := DumpRaw(&b, raw, f); err != nil {
				t.Fatal(err)
			}
			want, got := run(f.String(), expr), b.String()
			if f == DumpListing {
				// libpcap 1.10 pads an empty operand ("tax      "); the
				// newer libpcap of the corpus does not. The corpus is the bar.
				want = printTestTrim(want)
			}
			if got != want {
				t.Errorf("%q %v:\n%s", expr, f, printTestLineDiff(want, got))
			}
		}
	}
}

// printTestParseDDD parses tcpdump -ddd output: the count, then
// "code jt jf k" lines.
func printTestParseDDD(text string) ([]bpf.RawInstruction, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var n int
	if _, err := fmt.Sscanf(lines[0], "%d", &n); err != nil || n != len(lines)-1 {
		return nil, fmt.Errorf("-ddd count line %q for %d lines", lines[0], len(lines)-1)
	}
	raw := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		if _, err := fmt.Sscanf(l, "%d %d %d %d", &raw[i].Op, &raw[i].Jt, &raw[i].Jf, &raw[i].K); err != nil {
			return nil, fmt.Errorf("-ddd line %q: %w", l, err)
		}
	}
	return raw, nil
}

// printTestTrim removes trailing blanks from every line.
func printTestTrim(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
