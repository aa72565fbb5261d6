package bpftest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// ErrListing is returned, wrapped with the line at fault, when ParseListing
// meets text that is not a tcpdump -d listing.
var ErrListing = errors.New("bpf: malformed listing")

// ancillaryBase is the K of the first Linux ancillary load (SKF_AD_OFF, -0x1000).
const ancillaryBase = 0xfffff000

// listingAncillary returns n for the name libpcap's bpf_image prints for
// an absolute load at SKF_AD_OFF+n (linux/filter.h's SKF_AD_* numbers).
func listingAncillary(name string) (uint32, bool) {
	for i, s := range [...]string{"proto", "type", "ifidx", "nla", "nlan", "mark",
		"queue", "hatype", "rxhash", "cpu", "xor_x", "vlan_tci", "vlanp", "poff",
		"random", "vlan_tpid"} {
		if s == name {
			return uint32(4 * i), true
		}
	}
	return 0, false
}

// ParseListing parses a program printed in tcpdump's -d format (libpcap's
// bpf_image), one instruction a line:
//
//	(000) ldh      [12]
//	(001) jeq      #0x800           jt 2	jf 5
//
// Jump targets in the text are absolute instruction numbers; they become the
// relative skips of the instructions returned. A trailing "; 0xNNNN" comment
// (the opcode, as in libpcap's enumeration of all opcodes) is checked against
// the instruction parsed. Blank lines are ignored.
func ParseListing(text string) ([]bpf.Instruction, error) {
	var prog []bpf.Instruction
	for lineNo, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ins, err := parseListingLine(line, len(prog))
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", lineNo+1, line, err)
		}
		prog = append(prog, ins)
	}
	if len(prog) == 0 {
		return nil, fmt.Errorf("%w: no instructions", ErrListing)
	}
	return prog, nil
}

// parseListingLine parses one line that must be instruction number n.
func parseListingLine(line string, n int) (bpf.Instruction, error) {
	// "(NNN) "
	if !strings.HasPrefix(line, "(") {
		return nil, fmt.Errorf("%w: expected (NNN)", ErrListing)
	}
	end := strings.IndexByte(line, ')')
	if end < 0 {
		return nil, fmt.Errorf("%w: expected (NNN)", ErrListing)
	}
	idx, err := strconv.Atoi(line[1:end])
	if err != nil || idx != n {
		return nil, fmt.Errorf("%w: instruction number %q, want %d", ErrListing, line[1:end], n)
	}
	rest := strings.TrimSpace(line[end+1:])

	// Optional opcode comment.
	wantOp := -1
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		c := strings.TrimSpace(rest[i+1:])
		v, err := strconv.ParseUint(strings.TrimPrefix(c, "0x"), 16, 16)
		if err != nil || !strings.HasPrefix(c, "0x") {
			return nil, fmt.Errorf("%w: bad opcode comment %q", ErrListing, c)
		}
		wantOp = int(v)
		rest = strings.TrimSpace(rest[:i])
	}

	mnemonic, operand, _ := strings.Cut(rest, " ")
	operand = strings.TrimSpace(operand)
	ins, err := parseListingInstruction(mnemonic, operand, n)
	if err != nil {
		return nil, err
	}
	if wantOp >= 0 {
		raw, err := ins.Assemble()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrListing, err)
		}
		if int(raw.Op) != wantOp {
			return nil, fmt.Errorf("%w: opcode 0x%04x, comment says 0x%04x", ErrListing, raw.Op, wantOp)
		}
	}
	return ins, nil
}

// parseListingInstruction maps a mnemonic and its operand text to an
// instruction at position n.
func parseListingInstruction(mnemonic, operand string, n int) (bpf.Instruction, error) {
	switch mnemonic {
	case "ld", "ldh", "ldb":
		return parseListingLoad(mnemonic, operand)
	case "ldx":
		switch {
		case operand == "#pktlen":
			// BPF_LDX|BPF_W|BPF_LEN: valid, but x/net/bpf has no type for it.
			return bpf.RawInstruction{Op: 0x81}, nil
		case strings.HasPrefix(operand, "#"):
			k, err := parseListingNumber(operand[1:])
			return bpf.LoadConstant{Dst: bpf.RegX, Val: k}, err
		case strings.HasPrefix(operand, "M["):
			m, err := parseListingScratch(operand)
			return bpf.LoadScratch{Dst: bpf.RegX, N: m}, err
		}
	case "ldxb":
		if s, ok := strings.CutPrefix(operand, "4*(["); ok {
			if s, ok = strings.CutSuffix(s, "]&0xf)"); ok {
				k, err := parseListingNumber(s)
				return bpf.LoadMemShift{Off: k}, err
			}
		}
	case "st", "stx":
		m, err := parseListingScratch(operand)
		src := bpf.RegA
		if mnemonic == "stx" {
			src = bpf.RegX
		}
		return bpf.StoreScratch{Src: src, N: m}, err
	case "add", "sub", "mul", "div", "mod", "and", "or", "xor", "lsh", "rsh":
		op := listingALU(mnemonic)
		if operand == "x" {
			return bpf.ALUOpX{Op: op}, nil
		}
		if s, ok := strings.CutPrefix(operand, "#"); ok {
			k, err := parseListingNumber(s)
			return bpf.ALUOpConstant{Op: op, Val: k}, err
		}
	case "neg", "tax", "txa":
		if operand != "" {
			break
		}
		switch mnemonic {
		case "neg":
			return bpf.NegateA{}, nil
		case "tax":
			return bpf.TAX{}, nil
		default:
			return bpf.TXA{}, nil
		}
	case "ret":
		switch {
		case operand == "" || operand == "a":
			return bpf.RetA{}, nil
		case strings.HasPrefix(operand, "#"):
			k, err := parseListingNumber(operand[1:])
			return bpf.RetConstant{Val: k}, err
		}
	case "ja":
		t, err := strconv.Atoi(operand)
		if err != nil {
			return nil, fmt.Errorf("%w: bad jump target %q", ErrListing, operand)
		}
		// Backward targets wrap around, as libpcap's protochain loop does.
		return bpf.Jump{Skip: uint32(int64(t) - int64(n) - 1)}, nil
	case "jeq", "jgt", "jge", "jset":
		return parseListingCondJump(mnemonic, operand, n)
	}
	return nil, fmt.Errorf("%w: unknown instruction %q %q", ErrListing, mnemonic, operand)
}

// listingALU maps an ALU mnemonic of bpf_image to its operation.
func listingALU(mnemonic string) bpf.ALUOp {
	switch mnemonic {
	case "sub":
		return bpf.ALUOpSub
	case "mul":
		return bpf.ALUOpMul
	case "div":
		return bpf.ALUOpDiv
	case "mod":
		return bpf.ALUOpMod
	case "and":
		return bpf.ALUOpAnd
	case "or":
		return bpf.ALUOpOr
	case "xor":
		return bpf.ALUOpXor
	case "lsh":
		return bpf.ALUOpShiftLeft
	case "rsh":
		return bpf.ALUOpShiftRight
	}
	return bpf.ALUOpAdd
}

// listingCond maps a conditional jump mnemonic of bpf_image to its test.
func listingCond(mnemonic string) bpf.JumpTest {
	switch mnemonic {
	case "jgt":
		return bpf.JumpGreaterThan
	case "jge":
		return bpf.JumpGreaterOrEqual
	case "jset":
		return bpf.JumpBitsSet
	}
	return bpf.JumpEqual
}

// parseListingLoad parses the operand of ld, ldh and ldb.
func parseListingLoad(mnemonic, operand string) (bpf.Instruction, error) {
	size := 4
	switch mnemonic {
	case "ldh":
		size = 2
	case "ldb":
		size = 1
	}
	switch {
	case size == 4 && operand == "#pktlen":
		return bpf.LoadExtension{Num: bpf.ExtLen}, nil
	case size == 4 && strings.HasPrefix(operand, "#"):
		k, err := parseListingNumber(operand[1:])
		return bpf.LoadConstant{Dst: bpf.RegA, Val: k}, err
	case size == 4 && strings.HasPrefix(operand, "M["):
		m, err := parseListingScratch(operand)
		return bpf.LoadScratch{Dst: bpf.RegA, N: m}, err
	case strings.HasPrefix(operand, "[") && strings.HasSuffix(operand, "]"):
		inner := strings.TrimSpace(operand[1 : len(operand)-1])
		if s, ok := strings.CutPrefix(inner, "x"); ok {
			s = strings.TrimSpace(s)
			if s, ok = strings.CutPrefix(s, "+"); ok {
				k, err := parseListingNumber(strings.TrimSpace(s))
				return bpf.LoadIndirect{Off: k, Size: size}, err
			}
		}
		k, ok := listingAncillary(inner)
		if ok {
			k += ancillaryBase
		} else {
			var err error
			if k, err = parseListingNumber(inner); err != nil {
				return nil, err
			}
		}
		// LoadExtension{ExtLen} would assemble to BPF_LEN, not this load.
		if size == 4 && k >= ancillaryBase && k != ancillaryBase+uint32(bpf.ExtLen) {
			return bpf.LoadExtension{Num: bpf.Extension(k - ancillaryBase)}, nil
		}
		return bpf.LoadAbsolute{Off: k, Size: size}, nil
	}
	return nil, fmt.Errorf("%w: bad %s operand %q", ErrListing, mnemonic, operand)
}

// parseListingCondJump parses "#k  jt T\tjf F" or "x  jt T\tjf F".
func parseListingCondJump(mnemonic, operand string, n int) (bpf.Instruction, error) {
	f := strings.Fields(operand)
	if len(f) != 5 || f[1] != "jt" || f[3] != "jf" {
		return nil, fmt.Errorf("%w: bad %s operand %q", ErrListing, mnemonic, operand)
	}
	jt, err := parseListingTarget(f[2], n)
	if err != nil {
		return nil, err
	}
	jf, err := parseListingTarget(f[4], n)
	if err != nil {
		return nil, err
	}
	cond := listingCond(mnemonic)
	if f[0] == "x" {
		return bpf.JumpIfX{Cond: cond, SkipTrue: jt, SkipFalse: jf}, nil
	}
	s, ok := strings.CutPrefix(f[0], "#")
	if !ok {
		return nil, fmt.Errorf("%w: bad %s operand %q", ErrListing, mnemonic, f[0])
	}
	k, err := parseListingNumber(s)
	return bpf.JumpIf{Cond: cond, Val: k, SkipTrue: jt, SkipFalse: jf}, err
}

// parseListingTarget turns the absolute target of a conditional jump at n
// into its skip, which must fit in 8 bits and go forward.
func parseListingTarget(s string, n int) (uint8, error) {
	t, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: bad jump target %q", ErrListing, s)
	}
	skip := t - n - 1
	if skip < 0 || skip > 255 {
		return 0, fmt.Errorf("%w: jump target %d out of range from %d", ErrListing, t, n)
	}
	return uint8(skip), nil
}

// parseListingScratch parses "M[n]", n in 0..15.
func parseListingScratch(s string) (int, error) {
	inner, ok := strings.CutPrefix(s, "M[")
	if ok {
		inner, ok = strings.CutSuffix(inner, "]")
	}
	if !ok {
		return 0, fmt.Errorf("%w: bad scratch operand %q", ErrListing, s)
	}
	m, err := strconv.Atoi(inner)
	if err != nil || m < 0 || m > 15 {
		return 0, fmt.Errorf("%w: bad scratch index %q", ErrListing, inner)
	}
	return m, nil
}

// parseListingNumber parses a decimal (possibly negative, as libpcap prints
// K with %d) or 0x-prefixed hexadecimal 32-bit number.
func parseListingNumber(s string) (uint32, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			return 0, fmt.Errorf("%w: bad number %q", ErrListing, s)
		}
		return uint32(v), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < -(1<<31) || v > 1<<32-1 {
		return 0, fmt.Errorf("%w: bad number %q", ErrListing, s)
	}
	return uint32(v), nil
}
