package bpfcompile

import (
	"fmt"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// offsetNotSet marks a header offset the link type does not have.
const offsetNotSet = ^uint32(0)

// Offset bases of loads: what a load's offset is relative to.
type offrel uint8

const (
	orPacket offrel = iota
	orLinkHdr
	orPrevLinkHdr
	orLLC
	orPrevMPLSHdr
	orLinkPL
	orLinkPLNoSNAP
	orLinkType
	orTranIPv4
	orTranIPv6
)

// absOffset is the offset of a header from the start of the packet: a
// constant, plus, when earlier headers have variable length (after
// "vlan" in a savefile, geneve, vxlan), a value kept in a scratch
// register.
type absOffset struct {
	constPart uint32
	variable  bool
	reg       int
}

// gen holds the state of code generation for one expression.
type gen struct {
	opts Options
	src  string
	off  int // offset of the node being generated, for errors
	res  Resolver

	// The outermost link layer (the capture's link type) and the current
	// one, which "pppoes", "lane", "geneve" and "vxlan" change for the
	// rest of the expression; prev is the one before the current. Of the
	// outermost one's row, only its protocol field and prefix are read
	// (outerProto, outerPrefix).
	//
	// (The generator is allocated with every compile: its narrow fields
	// are put together where they take no padding.)
	outerLT, curLT, prevLT LinkType
	outerProto             protoKind
	outerPrefix            prefixKind
	// outerSaved holds the outermost link layer's header and payload
	// offsets (with their registers) once an encapsulation has replaced
	// them: the code finishParse puts first computes those.
	outerSaved bool
	isEncap    bool
	ll         linkLayer

	offOuterLinkHdr, offLinkHdr, offPrevLinkHdr, offLinkPL, offLinkType absOffset
	offNL, offNLNoSNAP                                                  uint32
	outerLinkHdr, outerLinkPL                                           absOffset

	labelDepth, vlanDepth int32
	curReg                int32 // allocReg's next register to try
	isVlanVloffset        bool
	// noOptimize: libpcap turns its optimizer off for the program.
	noOptimize bool
	stmtJumps  bool // a statement jumps (within its block)

	// blk holds the blocks of the program (indexed by block numbers),
	// stmts their statements (block.first, nstmts).
	blk   []block
	stmts []stmt
	// arith is the buffer arithmetic is generated into (arth).
	arith []stmt
	// nodeRoom holds the nodes of a short filter's syntax tree. (The
	// tokens have no room here: they live only while the filter is
	// parsed, and a slice of exactly their number, made by the lexer,
	// costs less than room for the tokens of every filter, zeroed and
	// collected with the generator.)
	nodeRoom nodeRoom
	// frags is the slab fragments come from, freeFrags those used up;
	// the first slab is fragRoom (few are in use at once: 5 in the
	// typical filters). The generator is 1,784 bytes: with the 8 the
	// allocator adds in front of an object with pointers, a size class
	// (1,792); 8 bytes more and it takes 2,048.
	frags     []frag
	freeFrags *frag
	fragRoom  [5]frag

	regUsed [16]bool

	// portChains holds the offsets of the port and portrange primitives
	// without a protocol that an "or" chain joins to another (see
	// markPortChains): they are generated in the shape that lets the
	// optimizer share their protocol tests.
	portChains map[int]bool

	// The first slabs of blocks and statements, room for a filter of one
	// primitive: the generator is allocated anyway. They hold no
	// pointers and come last, past the part the collector scans.
	blkRoom  [14]block
	stmtRoom [24]stmt
}

func (g *gen) errorf(format string, args ...any) {
	panic(bailout{&Error{Pos: posAt(g.src, g.off), Msg: fmt.Sprintf(format, args...)}})
}

// dltName is libpcap's name of the current link type in its error
// messages ("DLT_EN10MB").
func (g *gen) dltName() string {
	if n := g.curLT.Name(); n != "" {
		return "DLT_" + n
	}
	return fmt.Sprintf("DLT %d", g.curLT)
}

func (g *gen) failKwOnDLT(kw string) {
	g.errorf("'%s' not supported on %s", kw, g.dltName())
}

func (g *gen) assertMax(name string, v, max uint32) {
	if v > max {
		g.errorf("%s %d greater than maximum %d", name, v, max)
	}
}

// isEther reports whether the current link layer is Ethernet, with or
// without a pseudo-header or a tag.
func (g *gen) isEther() bool { return g.ll.ether }

// newGen sets up the header offsets of the link type.
func newGen(expr string, opts Options) (*gen, error) {
	row, ok := linkLayerRow(opts.LinkType)
	if !ok {
		return nil, &Error{Pos: posAt(expr, 0), Msg: fmt.Sprintf("%v %d", ErrUnknownLinkType, opts.LinkType), Err: ErrUnknownLinkType}
	}
	g := &gen{opts: opts, src: expr, outerLT: opts.LinkType, curLT: opts.LinkType, prevLT: opts.LinkType, ll: row, outerProto: row.proto, outerPrefix: row.prefix}
	g.offLinkHdr = absOffset{constPart: row.hdr, variable: row.prefix != prefixNone, reg: -1}
	g.offLinkType = absOffset{constPart: row.typ, reg: -1}
	g.offLinkPL = absOffset{constPart: row.payload, variable: row.payloadVar, reg: -1}
	g.offNL, g.offNLNoSNAP = row.nl, row.nlNoSNAP
	g.offOuterLinkHdr, g.offPrevLinkHdr = g.offLinkHdr, g.offLinkHdr
	g.frags = g.fragRoom[:0]
	g.blk, g.stmts = g.blkRoom[:0], g.stmtRoom[:0]
	g.res = opts.Resolver
	if g.res == nil {
		g.res = builtinResolver{}
	}
	return g, nil
}

// allocReg takes the next free scratch register, round robin.
func (g *gen) allocReg() int {
	for n := 0; n < len(g.regUsed); n++ {
		if g.regUsed[g.curReg] {
			g.curReg = (g.curReg + 1) % int32(len(g.regUsed))
		} else {
			g.regUsed[g.curReg] = true
			return int(g.curReg)
		}
	}
	g.errorf("too many registers needed to evaluate expression")
	return 0
}

func (g *gen) freeReg(n int) { g.regUsed[n] = false }

// varPart returns statements that load the variable part of off into X,
// or nil when it has none.
func (g *gen) varPart(off *absOffset) []stmt { return g.varPartTo(nil, off) }

// varPartTo appends varPart's statements to dst. (Most offsets are
// constant: that case inlines.)
func (g *gen) varPartTo(dst []stmt, off *absOffset) []stmt {
	if !off.variable {
		return dst
	}
	return g.varPartLoad(dst, off)
}

// varPartLoad appends the load of off's variable part to dst. (Kept out
// of line, so that varPartTo inlines.)
//
//go:noinline
func (g *gen) varPartLoad(dst []stmt, off *absOffset) []stmt {
	if off.reg == -1 {
		off.reg = g.allocReg()
	}
	return append(dst, stmt{code: cbpf.LDX | cbpf.MEM, k: uint32(off.reg)})
}

// loadA returns statements that load the field at offset, relative to
// the header rel, into A.
func (g *gen) loadA(rel offrel, offset uint32, size uint16) []stmt {
	return g.loadATo(nil, rel, offset, size)
}

// loadATo appends loadA's statements to dst.
func (g *gen) loadATo(dst []stmt, rel offrel, offset uint32, size uint16) []stmt {
	s := dst
	switch rel {
	case orPacket:
	case orLinkHdr:
		s = g.varPartTo(s, &g.offLinkHdr)
		offset += g.offLinkHdr.constPart
	case orPrevLinkHdr:
		s = g.varPartTo(s, &g.offPrevLinkHdr)
		offset += g.offPrevLinkHdr.constPart
	case orLLC:
		s = g.varPartTo(s, &g.offLinkPL)
		offset += g.offLinkPL.constPart
	case orPrevMPLSHdr:
		s = g.varPartTo(s, &g.offLinkPL)
		offset += g.offLinkPL.constPart + g.offNL - 4
	case orLinkPL:
		s = g.varPartTo(s, &g.offLinkPL)
		offset += g.offLinkPL.constPart + g.offNL
	case orLinkPLNoSNAP:
		s = g.varPartTo(s, &g.offLinkPL)
		offset += g.offLinkPL.constPart + g.offNLNoSNAP
	case orLinkType:
		s = g.varPartTo(s, &g.offLinkType)
		offset += g.offLinkType.constPart
	case orTranIPv4:
		s = g.loadXIPHdrLenTo(s)
		offset += g.offLinkPL.constPart + g.offNL
	case orTranIPv6:
		s = g.varPartTo(s, &g.offLinkPL)
		offset += g.offLinkPL.constPart + g.offNL + 40
	}
	op := cbpf.LD | cbpf.ABS | size
	if len(s) > len(dst) {
		// X holds the variable part.
		op = cbpf.LD | cbpf.IND | size
	}
	return append(s, stmt{code: op, k: offset})
}

// loadXIPHdrLen loads X with the IPv4 header length plus the variable
// part of the link-layer payload offset.
func (g *gen) loadXIPHdrLen() []stmt { return g.loadXIPHdrLenTo(nil) }

// loadXIPHdrLenTo appends loadXIPHdrLen's statements to dst.
func (g *gen) loadXIPHdrLenTo(dst []stmt) []stmt {
	n := len(dst)
	s := g.varPartTo(dst, &g.offLinkPL)
	if len(s) > n {
		return append(s,
			stmt{code: cbpf.LD | cbpf.IND | cbpf.B, k: g.offLinkPL.constPart + g.offNL},
			stmt{code: cbpf.ALU | cbpf.AND | cbpf.K, k: 0xf},
			stmt{code: cbpf.ALU | cbpf.LSH | cbpf.K, k: 2},
			stmt{code: cbpf.ALU | cbpf.ADD | cbpf.X},
			stmt{code: cbpf.MISC | cbpf.TAX})
	}
	return append(s, stmt{code: cbpf.LDX | cbpf.MSH | cbpf.B, k: g.offLinkPL.constPart + g.offNL})
}

// uncond is a constant condition; and/or fold it away.
func (g *gen) uncond(v bool) *frag {
	k := uint32(1)
	m := isFalse
	if v {
		k, m = 0, isTrue
	}
	f := g.jmpFrag(cbpf.JMP|cbpf.JEQ|cbpf.K, 0, []stmt{{code: cbpf.LD | cbpf.IMM, k: k}})
	f.m = m
	return f
}

func (g *gen) genTrue() *frag  { return g.uncond(true) }
func (g *gen) genFalse() *frag { return g.uncond(false) }

// ncmp compares (field & mask) with v using jump code jtype, negated
// when reverse.
func (g *gen) ncmp(rel offrel, offset uint32, size uint16, mask uint32, jtype uint16, reverse bool, v uint32) *frag {
	// The statements go straight into the arena (none jumps).
	first := len(g.stmts)
	g.stmts = g.loadATo(g.stmts, rel, offset, size)
	if mask != 0xffffffff {
		g.stmts = append(g.stmts, stmt{code: cbpf.ALU | cbpf.AND | cbpf.K, k: mask})
	}
	f := g.blockFrag(g.endBlock(cbpf.JMP|jtype|cbpf.K, v, first))
	if reverse {
		return g.not(f)
	}
	return f
}

func (g *gen) cmp(rel offrel, off uint32, size uint16, v uint32) *frag {
	return g.ncmp(rel, off, size, 0xffffffff, cbpf.JEQ, false, v)
}
func (g *gen) cmpGT(rel offrel, off uint32, size uint16, v uint32) *frag {
	return g.ncmp(rel, off, size, 0xffffffff, cbpf.JGT, false, v)
}
func (g *gen) cmpGE(rel offrel, off uint32, size uint16, v uint32) *frag {
	return g.ncmp(rel, off, size, 0xffffffff, cbpf.JGE, false, v)
}
func (g *gen) cmpLT(rel offrel, off uint32, size uint16, v uint32) *frag {
	return g.ncmp(rel, off, size, 0xffffffff, cbpf.JGE, true, v)
}
func (g *gen) cmpLE(rel offrel, off uint32, size uint16, v uint32) *frag {
	return g.ncmp(rel, off, size, 0xffffffff, cbpf.JGT, true, v)
}
func (g *gen) cmpNE(rel offrel, off uint32, size uint16, v uint32) *frag {
	return g.ncmp(rel, off, size, 0xffffffff, cbpf.JEQ, true, v)
}

// mcmp compares field & mask with v; a zero mask is a constant.
func (g *gen) mcmp(rel offrel, off uint32, size uint16, v, mask uint32) *frag {
	if mask == 0 {
		return g.uncond(v == 0)
	}
	return g.ncmp(rel, off, size, mask, cbpf.JEQ, false, v)
}

// bcmp compares the bytes v at off, last word first, as libpcap does.
func (g *gen) bcmp(rel offrel, off uint32, v []byte) *frag {
	var b *frag
	size := uint32(len(v))
	join := func(t *frag) {
		if b == nil {
			b = t
		} else {
			b = g.and(b, t)
		}
	}
	for size >= 4 {
		p := v[size-4:]
		join(g.cmp(rel, off+size-4, cbpf.W, uint32(p[0])<<24|uint32(p[1])<<16|uint32(p[2])<<8|uint32(p[3])))
		size -= 4
	}
	for size >= 2 {
		p := v[size-2:]
		join(g.cmp(rel, off+size-2, cbpf.H, uint32(p[0])<<8|uint32(p[1])))
		size -= 2
	}
	if size > 0 {
		join(g.cmp(rel, off, cbpf.B, uint32(v[0])))
	}
	return b
}

// set tests bits of A after stmts.
func (g *gen) setBits(v uint32, s []stmt) *frag   { return g.jmpFrag(cbpf.JMP|cbpf.JSET|cbpf.K, v, s) }
func (g *gen) unsetBits(v uint32, s []stmt) *frag { return g.not(g.setBits(v, s)) }
