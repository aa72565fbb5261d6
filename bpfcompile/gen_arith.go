package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// arth is an arithmetic value under construction: statements that leave
// it in scratch register reg, and the protocol checks (b) its packet loads
// need. Its statements are g.arith[start:] while it is the value generated
// last: an operator's operands are generated one after the other into
// that buffer, so their statements are already in the order the
// operator's need, and the operator's own follow them.
type arth struct {
	start int
	reg   int
	b     *frag
}

// aluOp returns the ALU operation of the arithmetic operator op.
func aluOp(op string) uint16 {
	switch op {
	case "+":
		return cbpf.ADD
	case "-":
		return cbpf.SUB
	case "*":
		return cbpf.MUL
	case "/":
		return cbpf.DIV
	case "%":
		return cbpf.MOD
	case "&":
		return cbpf.AND
	case "|":
		return cbpf.OR
	case "^":
		return cbpf.XOR
	case "<<":
		return cbpf.LSH
	case ">>":
		return cbpf.RSH
	}
	return 0
}

// genArith generates an arithmetic expression.
func (g *gen) genArith(n Arith) arth {
	g.off = n.Pos()
	switch n := n.(type) {
	case *NumNode:
		r := g.allocReg()
		a := arth{start: len(g.arith), reg: r}
		g.arith = append(g.arith, stmt{code: cbpf.LD | cbpf.IMM, k: n.Val}, stmt{code: cbpf.ST, k: uint32(r)})
		return a
	case *LenNode:
		r := g.allocReg()
		a := arth{start: len(g.arith), reg: r}
		g.arith = append(g.arith, stmt{code: cbpf.LD | cbpf.LEN | cbpf.W}, stmt{code: cbpf.ST, k: uint32(r)})
		return a
	case *NegNode:
		a := g.genArith(n.X)
		g.arith = append(g.arith,
			stmt{code: cbpf.LD | cbpf.MEM, k: uint32(a.reg)},
			stmt{code: cbpf.ALU | cbpf.NEG},
			stmt{code: cbpf.ST, k: uint32(a.reg)})
		return a
	case *ArithNode:
		a0 := g.genArith(n.X)
		a1 := g.genArith(n.Y)
		g.off = n.Off
		op := aluOp(n.Op)
		if first := g.arith[a1.start]; first.code == cbpf.LD|cbpf.IMM {
			switch {
			case op == cbpf.DIV && first.k == 0:
				g.errorf("division by zero")
			case op == cbpf.MOD && first.k == 0:
				g.errorf("modulus by zero")
			case (op == cbpf.LSH || op == cbpf.RSH) && first.k > 31:
				g.errorf("shift by more than 31 bits")
			}
		}
		g.arith = append(g.arith,
			stmt{code: cbpf.LDX | cbpf.MEM, k: uint32(a1.reg)},
			stmt{code: cbpf.LD | cbpf.MEM, k: uint32(a0.reg)},
			stmt{code: cbpf.ALU | cbpf.X | op})
		g.freeReg(a0.reg)
		g.freeReg(a1.reg)
		a0.reg = g.allocReg()
		g.arith = append(g.arith, stmt{code: cbpf.ST, k: uint32(a0.reg)})
		// As in libpcap, the right operand's protocol checks are not kept.
		return a0
	case *IndexNode:
		inst := g.genArith(n.Index)
		g.off = n.Off
		return g.genLoad(n.Proto, inst, n.Size)
	}
	g.errorf("internal error: arithmetic node %T", n)
	return arth{}
}

// genLoad loads size bytes at offset inst from the header of proto.
func (g *gen) genLoad(p pqual, inst arth, size uint32) arth {
	regno := g.allocReg()
	g.freeReg(inst.reg)
	var sz uint16
	switch size {
	case 1:
		sz = cbpf.B
	case 2:
		sz = cbpf.H
	case 4:
		sz = cbpf.W
	default:
		g.errorf("data size must be 1, 2, or 4")
	}
	var b *frag
	var buf [12]stmt
	s := buf[:0] // what loads X with the header's variable offset, if any
	var constPart uint32
	switch p {
	case qRadio:
		// The radio header is at the start of the packet.
		if p := g.ll.prefix; p != prefixRadiotap && p != prefixAVS && p != prefixPrism {
			g.errorf("radio information not present in capture")
		}
	case qLink:
		s = g.varPartTo(s, &g.offLinkHdr)
		constPart = g.offLinkHdr.constPart
	case qIP, qARP, qRARP, qAtalk, qDECnet, qSCA, qLAT, qMOPRC, qMOPDL, qIPv6:
		s = g.varPartTo(s, &g.offLinkPL)
		constPart = g.offLinkPL.constPart + g.offNL
		b = g.protoAbbrev(p)
	case qSCTP, qTCP, qUDP, qICMP, qIGMP, qIGRP, qPIM, qVRRP, qCARP:
		s = g.loadXIPHdrLenTo(s)
		constPart = g.offLinkPL.constPart + g.offNL
		b = g.protoAbbrev(qIP)
		b = g.and(b, g.ipProto(pqIPProto[p]))
		b = g.and(b, g.ipFrag())
	case qICMPv6:
		b = g.protoAbbrev(qIPv6)
		b = g.and(b, g.ip6Proto(ipprotoICMPv6))
		s = g.varPartTo(s, &g.offLinkPL)
		constPart = g.offLinkPL.constPart + g.offNL + 40
	default:
		g.errorf("'%s' does not support the index operation", p)
	}
	if b != nil {
		if inst.b != nil {
			inst.b = g.and(inst.b, b)
		} else {
			inst.b = b
		}
	}
	// X is the offset (plus the header's variable offset): the load is
	// indirect.
	if len(s) == 0 {
		s = append(s, stmt{code: cbpf.LDX | cbpf.MEM, k: uint32(inst.reg)})
	} else {
		s = append(s,
			stmt{code: cbpf.LD | cbpf.MEM, k: uint32(inst.reg)},
			stmt{code: cbpf.ALU | cbpf.ADD | cbpf.X},
			stmt{code: cbpf.MISC | cbpf.TAX})
	}
	s = append(s, stmt{code: cbpf.LD | cbpf.IND | sz, k: constPart})
	g.arith = append(g.arith, s...)
	inst.reg = regno
	g.arith = append(g.arith, stmt{code: cbpf.ST, k: uint32(regno)})
	return inst
}

// genRelation compares two arithmetic values.
func (g *gen) genRelation(n *RelNode) *frag {
	if g.arith == nil {
		g.arith = make([]stmt, 0, 32)
	}
	a0 := g.genArith(n.L)
	a1 := g.genArith(n.R)
	g.off = n.Off
	var code uint16
	reverse := false
	switch n.Op {
	case ">":
		code = cbpf.JGT
	case ">=":
		code = cbpf.JGE
	case "=":
		code = cbpf.JEQ
	case "<=":
		code, reverse = cbpf.JGT, true
	case "<":
		code, reverse = cbpf.JGE, true
	case "!=":
		code, reverse = cbpf.JEQ, true
	}
	g.arith = append(g.arith, stmt{code: cbpf.LDX | cbpf.MEM, k: uint32(a1.reg)}, stmt{code: cbpf.LD | cbpf.MEM, k: uint32(a0.reg)})
	b := g.jmpFrag(cbpf.JMP|code|cbpf.X, 0, g.arith[a0.start:])
	g.arith = g.arith[:a0.start] // the block has its copy
	if reverse {
		b = g.not(b)
	}
	g.freeReg(a0.reg)
	g.freeReg(a1.reg)
	if a0.b != nil {
		b = g.and(a0.b, b)
	}
	if a1.b != nil {
		b = g.and(a1.b, b)
	}
	return b
}
