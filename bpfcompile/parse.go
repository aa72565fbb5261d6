package bpfcompile

import (
	"fmt"
	"net/netip"
)

// The grammar is libpcap's (grammar.y), written here for a recursive-descent
// parser. "and" and "or" have the same precedence and associate to the
// left. An identifier after "and"/"or" inherits the qualifiers of the
// primitive before it ("host a or b"). Where libpcap's LALR parser decides
// between alternatives by lookahead, this parser tries them in turn.

const (
	maxExprLen  = 1 << 16 // bytes of filter text
	maxDepth    = 400     // nesting of parentheses, not, unary minus
	maxSteps    = 1 << 20 // parser work, a bound on backtracking
	syntaxError = "can't parse filter expression: syntax error"
)

type parser struct {
	src   string
	toks  []token
	nodes *nodeRoom // room for the nodes of a short filter, or nil
	p     int
	depth int
	steps int
	// the syntax error found furthest into the input
	errTok int
	errMsg string
	// the top-level expression as far as it was complete, for reporting
	// an error in it before a later syntax error, as libpcap (which
	// generates code while it parses) does
	top    bool
	prefix Node
	// Parenthesized arithmetic being parsed (token positions of the '('),
	// and the positions where such arithmetic failed: "((( ... tcp" is
	// tried as arithmetic at every level, and fails the same way every
	// time; remembering it keeps deep nesting linear.
	arithOpen   []int
	arithFailed []bool
	// closer[i] is the index of the ')' that closes the '(' at token i
	// (-1: none), made when first needed.
	closer []int32
}

// lexFatal is a lexical error: it ends the parse, whatever alternative was
// being tried, as libpcap's scanner does.
type lexFatal struct{ err *Error }

// Parse parses a filter expression into its syntax tree. An empty
// expression yields a nil Node (it matches every packet).
func Parse(expr string) (Node, error) {
	n, _, err := parse(expr)
	return n, err
}

// parse is Parse that also returns, on a syntax error, the complete
// primitives before it.
func parse(expr string) (n Node, prefix Node, err error) { return parseTo(nil, nil, expr) }

// parseTo is parse with room for the tokens (used when they fit) and for
// the nodes (nil: none). The tree may use the room for as long as it
// lives.
func parseTo(room []token, nodes *nodeRoom, expr string) (n Node, prefix Node, err error) {
	if len(expr) > maxExprLen {
		return nil, nil, &Error{Pos: posAt(expr, maxExprLen), Msg: fmt.Sprintf("expression longer than %d bytes", maxExprLen)}
	}
	ps := &parser{src: expr, toks: lexAllTo(room, expr), nodes: nodes, errTok: -1, top: true}
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case bailout:
				n, prefix, err = nil, ps.prefix, ps.syntaxErr()
			case lexFatal:
				n, prefix, err = nil, ps.prefix, e.err
			default:
				panic(r)
			}
		}
	}()
	// prog := [expr] EOF
	if ps.kind() == tEOF {
		return nil, nil, nil
	}
	n, _ = ps.parseExpr(qualUndef)
	if ps.kind() != tEOF {
		ps.fail()
	}
	return n, nil, nil
}

func (ps *parser) syntaxErr() *Error {
	i := ps.errTok
	if i < 0 || i >= len(ps.toks) {
		i = len(ps.toks) - 1
	}
	t := ps.toks[i]
	msg := syntaxError + ": unexpected " + t.describe()
	if ps.errMsg != "" {
		msg = ps.errMsg
	}
	return &Error{Pos: posAt(ps.src, t.off), Msg: msg}
}

// kind is peek().kind without copying the token.
func (ps *parser) kind() tokKind {
	t := &ps.toks[ps.p]
	if t.kind == tError {
		ps.lexError(t)
	}
	return t.kind
}

// peek returns the current token, ending the parse at a lexical error.
// (The errors are raised by functions of their own, here and in next and
// enter, so that these small functions, called for every token, inline.)
func (ps *parser) peek() *token {
	t := &ps.toks[ps.p]
	if t.kind == tError {
		ps.lexError(t)
	}
	return t
}

// lexError ends the parse with the lexical error t.
//
//go:noinline
func (ps *parser) lexError(t *token) {
	panic(lexFatal{&Error{Pos: posAt(ps.src, t.off), Msg: t.text}})
}

// peekAt looks k tokens ahead without reporting lexical errors.
func (ps *parser) peekAt(k int) tokKind {
	if ps.p+k < len(ps.toks) {
		return ps.toks[ps.p+k].kind
	}
	return tEOF
}

func (ps *parser) next() *token {
	t := ps.peek()
	ps.steps++
	if ps.steps > maxSteps {
		ps.tooComplex(t)
	}
	if t.kind != tEOF {
		ps.p++
	}
	return t
}

// fail records a syntax error at the current token and abandons the
// alternative being parsed.
func (ps *parser) fail() {
	if ps.p > ps.errTok {
		ps.errTok = ps.p
		ps.errMsg = ""
	}
	panic(bailout{})
}

func (ps *parser) expect(k tokKind) *token {
	if ps.kind() != k {
		ps.fail()
	}
	return ps.next()
}

// tooComplex ends the parse at t: it took more than maxSteps steps.
//
//go:noinline
func (ps *parser) tooComplex(t *token) {
	panic(lexFatal{&Error{Pos: posAt(ps.src, t.off), Msg: "expression too complex"}})
}

func (ps *parser) enter() {
	ps.depth++
	if ps.depth > maxDepth {
		ps.tooDeep()
	}
}

// tooDeep ends the parse at the current token: it is nested deeper than
// maxDepth.
func (ps *parser) tooDeep() {
	t := ps.toks[ps.p]
	panic(lexFatal{&Error{Pos: posAt(ps.src, t.off), Msg: fmt.Sprintf("expression nested deeper than %d", maxDepth)}})
}

func (ps *parser) leave() { ps.depth-- }

// try runs f; if f fails with a syntax error the position is restored and
// ok is false.
func (ps *parser) try(f func()) (ok bool) {
	save, depth, open := ps.p, ps.depth, len(ps.arithOpen)
	defer func() {
		if r := recover(); r != nil {
			if _, isBail := r.(bailout); !isBail {
				panic(r)
			}
			for _, at := range ps.arithOpen[open:] {
				if ps.arithFailed == nil {
					ps.arithFailed = make([]bool, len(ps.toks))
				}
				ps.arithFailed[at] = true
			}
			ps.p, ps.depth, ps.arithOpen = save, depth, ps.arithOpen[:open]
			ok = false
		}
	}()
	f()
	return true
}

// parseExpr parses
//
//	expr := term { ("and" | "or") (id | term) }
func (ps *parser) parseExpr(inh qual) (Node, qual) {
	top := ps.top
	ps.top = false
	n, q := ps.parseTerm(inh)
	for {
		if top {
			ps.prefix = n
		}
		t := ps.peek()
		if t.kind != tAnd && t.kind != tOr {
			return n, q
		}
		ps.next()
		op := "and"
		if t.kind == tOr {
			op = "or"
		}
		var m Node
		m, q = ps.parseOperand(q)
		n = ps.binaryNode(BinaryNode{Off: t.off, Op: op, X: n, Y: m})
	}
}

// parseOperand parses the right side of "and"/"or": an identifier that
// inherits q when one ends there, else a term.
func (ps *parser) parseOperand(q qual) (Node, qual) {
	switch ps.kind() {
	case tNum, tLParen, tNot, tID, tHID, tHID6, tEID, tAID, tEOF, tRParen:
	default:
		// No identifier starts so: do not try one (a failed try costs a
		// panic).
		return ps.parseTerm(q)
	}
	if ps.kind() == tLParen && ps.noParenID() {
		return ps.parseTerm(q)
	}
	var n Node
	var nq qual
	if ps.try(func() {
		n, nq = ps.parseID(q)
		switch ps.kind() {
		case tAnd, tOr, tRParen, tEOF:
		default:
			ps.fail()
		}
	}) {
		return n, nq
	}
	return ps.parseTerm(q)
}

// noParenID reports whether the parenthesized identifier list that
// parseID would try at the current '(' fails at once: the first token
// after the run of '(' cannot start a number or a name. It then does
// what the failed try would have done besides its panic (which costs more
// than the rest of a short filter's parse): the parser's steps, and the
// furthest syntax error, at that token. Where the try could reach the
// nesting or step limits or a lexical error, it reports false and the try
// runs.
func (ps *parser) noParenID() bool {
	r := 0
	for ps.p+r < len(ps.toks) && ps.toks[ps.p+r].kind == tLParen {
		r++
	}
	f := ps.p + r
	if f >= len(ps.toks) || ps.depth+2*r+8 > maxDepth || ps.steps+2*r+2 > maxSteps {
		return false
	}
	switch ps.toks[f].kind {
	case tNum, tNot, tID, tHID, tHID6, tEID, tAID, tError:
		return false
	}
	// parsePnum takes the r '(' and fails at f; parsePid takes the
	// first '(' and, after more of them, parsePnum the rest.
	ps.steps += 2 * r
	if f > ps.errTok {
		ps.errTok, ps.errMsg = f, ""
	}
	return true
}

// parseTerm parses
//
//	term := "not" term | rterm
func (ps *parser) parseTerm(inh qual) (Node, qual) {
	ps.enter()
	defer ps.leave()
	t := ps.peek()
	if t.kind == tNot {
		ps.next()
		n, q := ps.parseTerm(inh)
		return ps.notNode(NotNode{Off: t.off, X: n}), q
	}
	return ps.parseRterm(inh)
}

// arithAfterParen reports whether the token after the ')' that closes the
// '(' at token i could continue an arithmetic expression or a relation,
// or there is no such ')': only then can a relation start at i. Deciding
// this by looking ahead spares trying a relation at every level of
// "((( ... )))" around a primitive (a failed try costs a panic).
func (ps *parser) arithAfterParen(i int) bool {
	if ps.closer == nil {
		ps.closer = make([]int32, len(ps.toks))
		var room [64]int32 // the '(' still open, for most filters
		open := room[:0]
		for j, t := range ps.toks {
			ps.closer[j] = -1
			switch t.kind {
			case tLParen:
				open = append(open, int32(j))
			case tRParen:
				if len(open) > 0 {
					ps.closer[open[len(open)-1]] = int32(j)
					open = open[:len(open)-1]
				}
			}
		}
	}
	c := ps.closer[i]
	if c < 0 || int(c)+1 >= len(ps.toks) {
		return c < 0
	}
	switch ps.toks[c+1].kind {
	case tPlus, tMinus, tStar, tSlash, tPercent, tAmp, tPipe, tCaret, tLSH, tRSH,
		tLT, tGT, tEQ, tGEQ, tLEQ, tNEQ:
		return true
	}
	return false
}

// startsArith reports whether the current token can begin an arithmetic
// expression of a relation.
func (ps *parser) startsArith() bool {
	switch ps.kind() {
	case tNum, tMinus, tLen, tLParen:
		return true
	case tPName:
		return ps.peekAt(1) == tLBrack
	}
	return false
}

// parseRterm parses
//
//	rterm := head id | "(" expr ")" | pname | arth relop arth | other
func (ps *parser) parseRterm(inh qual) (Node, qual) {
	t := ps.peek()
	known := t.kind == tLParen && (ps.arithFailed != nil && ps.arithFailed[ps.p] || !ps.arithAfterParen(ps.p))
	if ps.startsArith() && !known {
		var n Node
		if ps.try(func() { n = ps.parseRelation() }) {
			return n, qualUndef
		}
		if t.kind != tLParen {
			ps.fail()
		}
	}
	switch t.kind {
	case tLParen:
		ps.next()
		n, _ := ps.parseExpr(inh)
		ps.expect(tRParen)
		return n, inh
	case tPName:
		ps.next()
		switch ps.kind() {
		case tSrc, tDst, tAddr1, tAddr2, tAddr3, tAddr4, tRA, tTA,
			tHost, tNet, tPort, tPortrange, tProto, tProtochain, tGateway:
			return ps.parseHead(t.pq, t.off)
		case tBroadcast, tMulticast, tType, tSubtype, tDir:
			return ps.parseOther(t.pq, t.off), qualUndef
		}
		return ps.protoNode(ProtoNode{Off: t.off, Proto: t.pq}), qualUndef
	case tSrc, tDst, tAddr1, tAddr2, tAddr3, tAddr4, tRA, tTA,
		tHost, tNet, tPort, tPortrange, tProto, tProtochain, tGateway:
		return ps.parseHead(qDefault, t.off)
	}
	return ps.parseOther(qDefault, t.off), qualUndef
}

// parseHead parses the qualifiers after an optional protocol and the
// identifier they qualify:
//
//	head := [pname] (dqual [aqual] | aqual | "proto" | "protochain" | "gateway")
//	dqual := "src" | "dst" | "src or dst" | "dst or src" | "src and dst" | "dst and src" | addr1..4 | ra | ta
//	aqual := "host" | "net" | "port" | "portrange"
func (ps *parser) parseHead(p pqual, off int) (Node, qual) {
	q := qual{proto: p}
	t := ps.next()
	switch t.kind {
	case tSrc, tDst:
		q.dir = dSrc
		other := tDst
		if t.kind == tDst {
			q.dir, other = dDst, tSrc
		}
		if k := ps.kind(); k == tOr || k == tAnd {
			ps.next()
			ps.expect(other)
			q.dir = dOr
			if k == tAnd {
				q.dir = dAnd
			}
		}
		q.addr = ps.optAqual()
	case tAddr1:
		q.dir, q.addr = dAddr1, ps.optAqual()
	case tAddr2:
		q.dir, q.addr = dAddr2, ps.optAqual()
	case tAddr3:
		q.dir, q.addr = dAddr3, ps.optAqual()
	case tAddr4:
		q.dir, q.addr = dAddr4, ps.optAqual()
	case tRA:
		q.dir, q.addr = dRA, ps.optAqual()
	case tTA:
		q.dir, q.addr = dTA, ps.optAqual()
	case tHost:
		q.addr = aHost
	case tNet:
		q.addr = aNet
	case tPort:
		q.addr = aPort
	case tPortrange:
		q.addr = aPortrange
	case tProto:
		q.addr = aProto
	case tProtochain:
		q.addr = aProtochain
	case tGateway:
		q.addr = aGateway
	default:
		ps.p--
		ps.fail()
	}
	n, _ := ps.parseID(q)
	return n, q
}

func (ps *parser) optAqual() aqual {
	switch ps.kind() {
	case tHost:
		ps.next()
		return aHost
	case tNet:
		ps.next()
		return aNet
	case tPort:
		ps.next()
		return aPort
	case tPortrange:
		ps.next()
		return aPortrange
	}
	return aDefault
}

// parseID parses an identifier with the qualifiers q:
//
//	id := nid | pnum | "(" pid ")"
func (ps *parser) parseID(q qual) (Node, qual) {
	ps.enter()
	defer ps.leave()
	t := ps.peek()
	switch t.kind {
	case tNum:
		ps.next()
		return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idNum, Num: t.num, Text: t.text}), q
	case tLParen:
		var v uint32
		if ps.try(func() { v = ps.parsePnum() }) {
			return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idNum, Num: v, Text: fmt.Sprint(v)}), q
		}
		ps.next()
		n := ps.parsePid(q)
		ps.expect(tRParen)
		return n, q
	}
	return ps.parseNID(q), q
}

// parsePid parses the inside of a parenthesized identifier list:
//
//	pid := nid | qid ("and" | "or") id
//	qid := pnum | pid
func (ps *parser) parsePid(q qual) Node {
	t := ps.peek()
	var n Node
	isNum := false
	if t.kind == tNum || t.kind == tLParen {
		v := ps.parsePnum()
		n = ps.idNode(IDNode{Off: t.off, Q: q, Kind: idNum, Num: v, Text: fmt.Sprint(v)})
		isNum = true
	} else {
		n = ps.parseNID(q)
	}
	for k := ps.peek(); k.kind == tAnd || k.kind == tOr; k = ps.peek() {
		ps.next()
		op := "and"
		if k.kind == tOr {
			op = "or"
		}
		m, _ := ps.parseID(q)
		n = ps.binaryNode(BinaryNode{Off: k.off, Op: op, X: n, Y: m})
		isNum = false
	}
	if isNum {
		ps.fail()
	}
	return n
}

// parseNID parses
//
//	nid := ID | HID "/" NUM | HID "mask" HID | HID | HID6 "/" NUM | HID6 | EID | AID | "not" id
func (ps *parser) parseNID(q qual) Node {
	ps.enter()
	defer ps.leave()
	t := ps.peek()
	switch t.kind {
	case tNot:
		ps.next()
		n, _ := ps.parseID(q)
		return ps.notNode(NotNode{Off: t.off, X: n})
	case tID:
		ps.next()
		return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idName, Text: t.text})
	case tHID:
		ps.next()
		switch ps.kind() {
		case tSlash:
			ps.next()
			l := ps.expect(tNum)
			return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idHIDLen, Text: t.text, Num: l.num})
		case tNetmask:
			ps.next()
			m := ps.expect(tHID)
			return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idHIDMask, Text: t.text, Mask: m.text})
		}
		return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idHID, Text: t.text})
	case tHID6:
		ps.next()
		if ps.kind() == tSlash {
			ps.next()
			l := ps.expect(tNum)
			return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idHID6Len, Text: t.text, Num: l.num})
		}
		return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idHID6, Text: t.text})
	case tEID:
		ps.next()
		return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idEID, Text: t.text})
	case tAID:
		ps.next()
		return ps.idNode(IDNode{Off: t.off, Q: q, Kind: idAID, Text: t.text})
	}
	ps.fail()
	return nil
}

// parsePnum parses
//
//	pnum := NUM | "(" pnum ")"
func (ps *parser) parsePnum() uint32 {
	ps.enter()
	defer ps.leave()
	if ps.kind() == tLParen {
		ps.next()
		v := ps.parsePnum()
		ps.expect(tRParen)
		return v
	}
	return ps.expect(tNum).num
}

// parseRelation parses
//
//	arth relop arth, relop := ">" | ">=" | "=" | "<=" | "<" | "!="
func (ps *parser) parseRelation() Node {
	l := ps.parseArith(1)
	t := ps.peek()
	var op string
	switch t.kind {
	case tGT:
		op = ">"
	case tGEQ:
		op = ">="
	case tEQ:
		op = "="
	case tLEQ:
		op = "<="
	case tLT:
		op = "<"
	case tNEQ:
		op = "!="
	default:
		ps.fail()
	}
	ps.next()
	r := ps.parseArith(1)
	return &RelNode{Off: t.off, Op: op, L: l, R: r}
}

// arithPrec returns the precedence of the binary operator k, 0 for a
// token that is none (or "%" and "^", which parseArith handles apart).
func arithPrec(k tokKind) int {
	switch k {
	case tPipe:
		return 1
	case tAmp:
		return 2
	case tLSH, tRSH:
		return 3
	case tPlus, tMinus:
		return 4
	case tStar, tSlash:
		return 5
	}
	return 0
}

// arithOp returns the text of the arithmetic operator k.
func arithOp(k tokKind) string {
	switch k {
	case tPipe:
		return "|"
	case tAmp:
		return "&"
	case tLSH:
		return "<<"
	case tRSH:
		return ">>"
	case tPlus:
		return "+"
	case tMinus:
		return "-"
	case tStar:
		return "*"
	case tSlash:
		return "/"
	case tPercent:
		return "%"
	case tCaret:
		return "^"
	}
	return ""
}

// parseArith parses an arithmetic expression with operators of precedence
// at least minPrec:
//
//	arth := pnum | LEN | pname "[" arth [":" NUM] "]" | arth op arth | "-" arth | "(" arth ")"
//
// libpcap declares no precedence for "%" and "^", so its parser always
// shifts them: their right operand extends over the whole rest of the
// arithmetic expression.
func (ps *parser) parseArith(minPrec int) Arith {
	left := ps.parseUnary()
	for {
		t := ps.peek()
		if t.kind == tPercent || t.kind == tCaret {
			ps.next()
			right := ps.parseArith(1)
			left = &ArithNode{Off: t.off, Op: arithOp(t.kind), X: left, Y: right}
			continue
		}
		p := arithPrec(t.kind)
		if p == 0 || p < minPrec {
			return left
		}
		ps.next()
		right := ps.parseArith(p + 1)
		left = &ArithNode{Off: t.off, Op: arithOp(t.kind), X: left, Y: right}
	}
}

func (ps *parser) parseUnary() Arith {
	ps.enter()
	defer ps.leave()
	t := ps.peek()
	if t.kind == tMinus {
		ps.next()
		x := ps.parseUnary()
		for k := ps.peek(); k.kind == tPercent || k.kind == tCaret; k = ps.peek() {
			ps.next()
			x = &ArithNode{Off: k.off, Op: arithOp(k.kind), X: x, Y: ps.parseArith(1)}
		}
		return &NegNode{Off: t.off, X: x}
	}
	return ps.parsePrimary()
}

func (ps *parser) parsePrimary() Arith {
	t := ps.peek()
	switch t.kind {
	case tNum:
		ps.next()
		return &NumNode{Off: t.off, Val: t.num}
	case tLen:
		ps.next()
		return &LenNode{Off: t.off}
	case tPName:
		ps.next()
		ps.expect(tLBrack)
		idx := ps.parseArith(1)
		size := uint32(1)
		if ps.kind() == tColon {
			ps.next()
			size = ps.expect(tNum).num
		}
		ps.expect(tRBrack)
		return &IndexNode{Off: t.off, Proto: t.pq, Index: idx, Size: size}
	case tLParen:
		at := ps.p
		if ps.arithFailed != nil && ps.arithFailed[at] {
			ps.fail()
		}
		ps.arithOpen = append(ps.arithOpen, at)
		ps.next()
		x := ps.parseArith(1)
		ps.expect(tRParen)
		ps.arithOpen = ps.arithOpen[:len(ps.arithOpen)-1]
		return x
	}
	ps.fail()
	return nil
}

// parseOther parses the keyword primitives.
func (ps *parser) parseOther(p pqual, off int) Node {
	t := ps.next()
	n := &OtherNode{Off: off, Proto: p, Kind: t.text}
	switch t.kind {
	case tBroadcast, tMulticast:
	case tLess, tGreater, tIfindex:
		n.HasNum, n.Num = true, ps.expect(tNum).num
	case tByte:
		n.Num = ps.expect(tNum).num
		switch op := ps.next(); op.kind {
		case tAmp, tPipe, tLT, tGT, tEQ:
			n.Op = op.text
			if op.kind == tEQ {
				n.Op = "="
			}
		default:
			ps.p--
			ps.fail()
		}
		n.Num2 = ps.expect(tNum).num
	case tInbound, tOutbound, tPppoed:
	case tVlan, tMpls, tPppoes, tGeneve, tVxlan:
		if k := ps.kind(); k == tNum || k == tLParen {
			n.HasNum, n.Num = true, ps.parsePnum()
		}
	case tLLC:
		switch k := ps.peek(); k.kind {
		case tID, tPFRnr:
			ps.next()
			n.Name = k.text
		}
	case tPFIfname, tPFRset, tPFAction:
		n.Name = ps.expect(tID).text
	case tPFRnr, tPFSrnr:
		n.HasNum, n.Num = true, ps.expect(tNum).num
	case tPFReason:
		k := ps.next()
		if k.kind != tNum && k.kind != tID {
			ps.p--
			ps.fail()
		}
		n.Name = k.text
	case tType:
		k := ps.next()
		if k.kind != tNum && k.kind != tID {
			ps.p--
			ps.fail()
		}
		n.Name = k.text
		if ps.kind() == tSubtype {
			ps.next()
			k := ps.next()
			if k.kind != tNum && k.kind != tID {
				ps.p--
				ps.fail()
			}
			n.Name += " subtype " + k.text
		}
	case tSubtype:
		n.Name = ps.expect(tID).text
	case tDir:
		k := ps.next()
		if k.kind != tNum && k.kind != tID {
			ps.p--
			ps.fail()
		}
		n.Name = k.text
	case tATMType, tATMMulti, tMTP2Type:
	case tATMField, tMTP3Field:
		ps.parseFieldValue(n)
	default:
		ps.p--
		ps.fail()
	}
	return n
}

// parseFieldValue parses the value of vpi/vci and the MTP3 fields:
//
//	NUM | relop NUM | "(" NUM { "or" NUM } ")"
func (ps *parser) parseFieldValue(n *OtherNode) {
	switch t := ps.peek(); t.kind {
	case tNum:
		n.List = append(n.List, ps.next().num)
	case tGT, tGEQ, tEQ, tLEQ, tLT, tNEQ:
		ps.next()
		n.Op = t.text
		n.List = append(n.List, ps.expect(tNum).num)
	case tLParen:
		ps.next()
		n.List = append(n.List, ps.expect(tNum).num)
		for ps.kind() == tOr {
			ps.next()
			n.List = append(n.List, ps.expect(tNum).num)
		}
		ps.expect(tRParen)
	default:
		ps.fail()
	}
}

// parseIPv6 parses an IPv6 address as inet_pton does.
func parseIPv6(s string) ([16]byte, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return [16]byte{}, false
	}
	return a.As16(), true
}
