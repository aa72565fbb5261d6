package bpfcompile

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// DumpFormat selects one of tcpdump's three ways to print a program.
type DumpFormat int

// The formats, named after the tcpdump option that selects them.
const (
	_ DumpFormat = iota
	// DumpListing is tcpdump -d: one bpf_image line per instruction,
	// "(000) ldh      [12]".
	DumpListing
	// DumpC is tcpdump -dd: a C array initializer,
	// "{ 0x28, 0, 0, 0x0000000c },".
	DumpC
	// DumpDecimal is tcpdump -ddd: the instruction count, then
	// "code jt jf k" in decimal per line.
	DumpDecimal
)

// String returns the tcpdump option of the format.
func (f DumpFormat) String() string {
	switch f {
	case DumpListing:
		return "-d"
	case DumpC:
		return "-dd"
	case DumpDecimal:
		return "-ddd"
	}
	return fmt.Sprintf("DumpFormat(%d)", int(f))
}

// Dump writes prog to w in format f, byte for byte as tcpdump (libpcap's
// bpf_dump) prints it.
func Dump(w io.Writer, prog []bpf.Instruction, f DumpFormat) error {
	raw, err := vmAssemble(prog)
	if err != nil {
		return fmt.Errorf("bpf dump: %w", err)
	}
	return DumpRaw(w, raw, f)
}

// DumpRaw is Dump for raw instructions; it prints any opcode, valid or not.
func DumpRaw(w io.Writer, raw []bpf.RawInstruction, f DumpFormat) error {
	bw := bufio.NewWriter(w)
	switch f {
	case DumpListing:
		for i, r := range raw {
			bw.WriteString(Image(r, i))
			bw.WriteByte('\n')
		}
	case DumpC:
		for _, r := range raw {
			fmt.Fprintf(bw, "{ 0x%x, %d, %d, 0x%08x },\n", r.Op, r.Jt, r.Jf, r.K)
		}
	case DumpDecimal:
		fmt.Fprintf(bw, "%d\n", len(raw))
		for _, r := range raw {
			fmt.Fprintf(bw, "%d %d %d %d\n", r.Op, r.Jt, r.Jf, r.K)
		}
	default:
		return fmt.Errorf("bpf dump: unknown format %v", f)
	}
	return bw.Flush()
}

// Listing returns prog in tcpdump -d form, one line per instruction, each
// ending in a newline.
func Listing(prog []bpf.Instruction) (string, error) {
	var b strings.Builder
	if err := Dump(&b, prog, DumpListing); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Image returns the tcpdump -d line of instruction r at index n, without the
// newline, exactly as libpcap's bpf_image: "(NNN) op       operand", with
// conditional jumps followed by their absolute targets
// ("jt T\tjf F"), ancillary loads by name ("[vlan_tci]"), and an unknown
// opcode as "unimp    0xCODE".
func Image(r bpf.RawInstruction, n int) string {
	op := vmDecodeOp(r.Op)
	name, operand := imageParts(op, r, n)
	switch {
	case r.Op&0x07 == cbpf.JMP && r.Op&0xf0 != cbpf.JA:
		// Every jump class opcode but ja, even an unknown one.
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", n, name, operand, n+1+int(r.Jt), n+1+int(r.Jf))
	case operand == "":
		return fmt.Sprintf("(%03d) %s", n, name)
	default:
		return fmt.Sprintf("(%03d) %-8s %s", n, name, operand)
	}
}

// imageParts returns the mnemonic and the operand text of one instruction.
// libpcap prints most immediates signed ("#%d") but the immediates of
// ld/ldx/and/or/xor and of jump comparisons in hex ("#0x%x").
func imageParts(op vmOp, r bpf.RawInstruction, n int) (name, operand string) {
	k := r.K
	dec := fmt.Sprintf("#%d", int32(k))
	hex := fmt.Sprintf("#0x%x", k)
	switch op {
	case vmOpLdImm:
		return "ld", hex
	case vmOpLdxImm:
		return "ldx", hex
	case vmOpLdAbsW:
		return "ld", imageAbsOperand(k)
	case vmOpLdAbsH:
		return "ldh", imageAbsOperand(k)
	case vmOpLdAbsB:
		return "ldb", imageAbsOperand(k)
	case vmOpLdIndW:
		return "ld", fmt.Sprintf("[x + %d]", int32(k))
	case vmOpLdIndH:
		return "ldh", fmt.Sprintf("[x + %d]", int32(k))
	case vmOpLdIndB:
		return "ldb", fmt.Sprintf("[x + %d]", int32(k))
	case vmOpLdLen:
		return "ld", "#pktlen"
	case vmOpLdxLen:
		return "ldx", "#pktlen"
	case vmOpLdMem:
		return "ld", fmt.Sprintf("M[%d]", int32(k))
	case vmOpLdxMem:
		return "ldx", fmt.Sprintf("M[%d]", int32(k))
	case vmOpLdxMsh:
		return "ldxb", fmt.Sprintf("4*([%d]&0xf)", int32(k))
	case vmOpSt:
		return "st", fmt.Sprintf("M[%d]", int32(k))
	case vmOpStx:
		return "stx", fmt.Sprintf("M[%d]", int32(k))
	case vmOpAddK:
		return "add", dec
	case vmOpSubK:
		return "sub", dec
	case vmOpMulK:
		return "mul", dec
	case vmOpDivK:
		return "div", dec
	case vmOpModK:
		return "mod", dec
	case vmOpAndK:
		return "and", hex
	case vmOpOrK:
		return "or", hex
	case vmOpXorK:
		return "xor", hex
	case vmOpLshK:
		return "lsh", dec
	case vmOpRshK:
		return "rsh", dec
	case vmOpAddX:
		return "add", "x"
	case vmOpSubX:
		return "sub", "x"
	case vmOpMulX:
		return "mul", "x"
	case vmOpDivX:
		return "div", "x"
	case vmOpModX:
		return "mod", "x"
	case vmOpAndX:
		return "and", "x"
	case vmOpOrX:
		return "or", "x"
	case vmOpXorX:
		return "xor", "x"
	case vmOpLshX:
		return "lsh", "x"
	case vmOpRshX:
		return "rsh", "x"
	case vmOpNeg:
		return "neg", ""
	case vmOpJa:
		// C computes n + 1 + k in unsigned int and prints it with %d.
		return "ja", fmt.Sprintf("%d", int32(uint32(n)+1+k))
	case vmOpJeqK:
		return "jeq", hex
	case vmOpJgtK:
		return "jgt", hex
	case vmOpJgeK:
		return "jge", hex
	case vmOpJsetK:
		return "jset", hex
	case vmOpJeqX:
		return "jeq", "x"
	case vmOpJgtX:
		return "jgt", "x"
	case vmOpJgeX:
		return "jge", "x"
	case vmOpJsetX:
		return "jset", "x"
	case vmOpRetK:
		return "ret", dec
	case vmOpRetA:
		return "ret", ""
	case vmOpTax:
		return "tax", ""
	case vmOpTxa:
		return "txa", ""
	}
	return "unimp", fmt.Sprintf("0x%x", r.Op)
}

// imageAbsOperand prints the offset of an absolute load: by name for a Linux
// ancillary offset, else signed decimal.
func imageAbsOperand(k uint32) string {
	if k >= cbpf.AncillaryBase && k-cbpf.AncillaryBase < ancMax {
		if s := ancillaryName(k - cbpf.AncillaryBase); s != "" {
			return "[" + s + "]"
		}
	}
	return fmt.Sprintf("[%d]", int32(k))
}
