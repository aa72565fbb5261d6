package bpfcompile

import "strings"

// The lexer follows libpcap's scanner: at each position the longest match
// among all token patterns wins, and on a tie the pattern listed first in
// libpcap's scanner wins (keywords, punctuation, $XX, MAC-48, number,
// dotted IPv4, IPv6, malformed MAC, named constants, identifier).

// lexer priority classes, lower wins a tie.
const (
	prKeyword = iota
	prPunct
	prAID
	prMAC
	prNum
	prHID
	prHID6
	prBadMAC
	prNumWord
	prID
	prEscID
)

func isHex(c byte) bool { return charClass[c]&ccHex != 0 }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lexAll splits src into tokens. A lexical error becomes a tError token
// and ends the list; the last token is always tEOF or tError.
func lexAll(src string) []token { return lexAllTo(nil, src) }

// lexAllTo is lexAll into room, when src's tokens fit in it.
func lexAllTo(room []token, src string) []token {
	toks := room[:0]
	if n := tokenBound(src); n > cap(room) {
		toks = make([]token, 0, n)
	}
	i := 0
	for {
		for i < len(src) && charClass[src[i]]&ccBlank != 0 {
			i++
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, off: i})
			return toks
		}
		if k := punct1(src[i]); k != tInvalid {
			toks = append(toks, token{kind: k, off: i, text: src[i : i+1]})
			i++
			continue
		}
		t, end := lexOne(src, i)
		toks = append(toks, t)
		if t.kind == tError {
			return toks
		}
		i = end
	}
}

// punct1 returns the kind of the one-character token that c always is
// (no longer token starts with it), or tInvalid.
func punct1(c byte) tokKind {
	switch c {
	case '(':
		return tLParen
	case ')':
		return tRParen
	case '[':
		return tLBrack
	case ']':
		return tRBrack
	case '+':
		return tPlus
	case '-':
		return tMinus
	case '*':
		return tStar
	case '/':
		return tSlash
	case '%':
		return tPercent
	case '^':
		return tCaret
	}
	return tInvalid
}

// tokenBound returns about the number of tokens of src, and at least it
// for filters of words, numbers, addresses and punctuation (EOF
// included): a token starts at punctuation or after a blank or
// punctuation. (Room for a token is worth counting: it is larger than the
// characters it takes.)
func tokenBound(src string) int {
	n := 1
	after := true // after a blank or punctuation
	for i := 0; i < len(src); i++ {
		switch cc := charClass[src[i]]; {
		case cc&ccBlank != 0:
			after = true
		case cc&ccPunct != 0:
			n++
			after = true
		default:
			if after {
				n++
			}
			after = false
		}
	}
	return n
}

// lexOne scans the token starting at src[i] and returns it and the
// offset just past it.
func lexOne(src string, i int) (t token, end int) {
	s := src[i:]
	switch s[0] {
	case '(', ')', '[', ']', '!', '&', '|', '+', '-', '*', '/', '%', '^', '<', '>', '=':
		// Only punctuation starts with these: no other pattern can match.
		if n := matchPunct(s); n > 0 {
			return token{kind: punctKind(s[:n]), off: i, text: s[:n]}, i + n
		}
	}
	if isDigit(s[0]) {
		// Fewer than 12 decimal digits that a blank, punctuation other
		// than '-' or the end follows are a number: no address or word
		// is longer (a MAC address of 12 hex digits is).
		n := 1
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		if n < 12 && endsToken(s, n) {
			v, msg := parseNumber(s[:n])
			if msg != "" {
				return token{kind: tError, off: i, text: msg}, i + n
			}
			return token{kind: tNum, off: i, text: s[:n], num: v}, i + n
		}
	}
	if isHex(s[0]) {
		// A MAC address, or else a dotted IPv4 address, that a blank,
		// punctuation other than '-' or the end follows: every other
		// pattern stops at that byte, and on a tie the MAC address wins,
		// then the IPv4 address.
		if n := matchMAC(s); n > 0 && endsToken(s, n) {
			return token{kind: tEID, off: i, text: s[:n]}, i + n
		}
		if n := matchHID(s); n > 0 && endsToken(s, n) {
			return token{kind: tHID, off: i, text: s[:n]}, i + n
		}
	}
	if idLen := matchID(s); idLen > 0 && isLetter(s[0]) && pastF(s[:idLen]) {
		// A word that starts with a letter and holds one past f is no
		// number, no address and no punctuation, which are made of hex
		// digits and separators: only a word.
		var kw tokKind
		var pq pqual
		pr := prID
		if r, ok := lookupReserved(s[:idLen]); ok {
			kw, pq, pr = r.kind, r.pq, r.pr
		}
		return wordToken(s, i, idLen, pr, kw, pq)
	}
	return lexMatch(s, i)
}

// endsToken reports whether a token of the addresses' and numbers'
// patterns that is s[:n] can end there: s[n] is a blank or punctuation
// other than '-' (which continues words), or s ends.
func endsToken(s string, n int) bool {
	return n == len(s) || charClass[s[n]]&(ccBlank|ccPunct) != 0 && s[n] != '-'
}

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { c |= 0x20; return c >= 'a' && c <= 'z' }

// pastF reports whether w holds a letter past f (in either case).
func pastF(w string) bool {
	for i := 0; i < len(w); i++ {
		if c := w[i] | 0x20; c >= 'g' && c <= 'z' {
			return true
		}
	}
	return false
}

// lexMatch scans the token s (at offset i) starts with by trying every
// pattern: the longest match wins, on a tie the one of highest priority.
func lexMatch(s string, i int) (t token, end int) {
	bestLen, bestPr := 0, 99
	try := func(n, pr int) {
		if n > bestLen || n == bestLen && n > 0 && pr < bestPr {
			bestLen, bestPr = n, pr
		}
	}
	idLen := matchID(s)
	// Keywords and named numbers are identifiers that are reserved words.
	var kw tokKind
	var pq pqual
	if idLen > 0 {
		if r, ok := lookupReserved(s[:idLen]); ok {
			kw, pq = r.kind, r.pq
			try(idLen, r.pr)
		}
		try(idLen, prID)
	}
	try(matchPunct(s), prPunct)
	if len(s) >= 2 && s[0] == '$' && isHex(s[1]) {
		n := 2
		if len(s) > 2 && isHex(s[2]) {
			n = 3
		}
		try(n, prAID)
	}
	try(matchMAC(s), prMAC)
	try(matchN(s), prNum)
	try(matchHID(s), prHID)
	try(matchV6(s), prHID6)
	try(matchBadMAC(s), prBadMAC)
	if s[0] == '\\' {
		n := 1
		for n < len(s) && !strings.ContainsRune(" !()\n\t", rune(s[n])) {
			n++
		}
		if n > 1 {
			try(n, prEscID)
		}
	}
	if bestLen == 0 {
		return token{kind: tError, off: i, text: syntaxError + ": illegal character '" + s[:1] + "'"}, i + 1
	}
	if bestLen == idLen && (bestPr == prKeyword || bestPr == prNumWord || bestPr == prID) {
		return wordToken(s, i, idLen, bestPr, kw, pq)
	}
	text := s[:bestLen]
	t = token{off: i, text: text}
	switch bestPr {
	case prPunct:
		t.kind = punctKind(text)
	case prAID:
		t.kind = tAID
	case prMAC:
		t.kind = tEID
	case prNum:
		v, msg := parseNumber(text)
		if msg != "" {
			return token{kind: tError, off: i, text: msg}, i + bestLen
		}
		t.kind, t.num = tNum, v
	case prHID:
		t.kind = tHID
	case prHID6:
		if _, ok := parseIPv6(text); !ok {
			return token{kind: tError, off: i, text: "invalid IPv6 address " + text}, i + bestLen
		}
		t.kind = tHID6
	case prBadMAC:
		return token{kind: tError, off: i, text: "invalid Ethernet address " + text}, i + bestLen
	case prEscID:
		t.kind, t.text = tID, text[1:]
	}
	return t, i + bestLen
}

// wordToken makes the token of the word s[:n] at offset i, a keyword
// (kw, with its protocol qualifier pq for tPName) by priority pr, a named
// number or an identifier.
func wordToken(s string, i, n, pr int, kw tokKind, pq pqual) (token, int) {
	t := token{off: i, text: s[:n]}
	switch pr {
	case prKeyword:
		t.kind, t.pq = kw, pq
	case prNumWord:
		t.kind, t.num = tNum, numWords[t.text]
	default:
		t.kind = tID
	}
	return t, i + n
}

// matchID matches [A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?
func matchID(s string) int {
	if len(s) == 0 || !isAlnum(s[0]) {
		return 0
	}
	n := 1
	for n < len(s) && (isAlnum(s[n]) || s[n] == '-' || s[n] == '_' || s[n] == '.') {
		n++
	}
	for n > 1 && (s[n-1] == '-' || s[n-1] == '_') {
		n--
	}
	return n
}

func matchPunct(s string) int {
	switch s[0] {
	case '(', ')', '[', ']', '+', '-', '*', '/', '%', ':', '^':
		return 1
	case '>', '<', '!', '=', '&', '|':
		if len(s) >= 2 {
			switch s[:2] {
			case ">=", "<=", "!=", "==", "<<", ">>", "&&", "||":
				return 2
			}
		}
		return 1
	}
	return 0
}

func punctKind(p string) tokKind {
	switch p {
	case ">=":
		return tGEQ
	case "<=":
		return tLEQ
	case "!=":
		return tNEQ
	case "==", "=":
		return tEQ
	case "<<":
		return tLSH
	case ">>":
		return tRSH
	case "&&":
		return tAnd
	case "||":
		return tOr
	case "+":
		return tPlus
	case "-":
		return tMinus
	case "*":
		return tStar
	case "/":
		return tSlash
	case "%":
		return tPercent
	case ":":
		return tColon
	case "[":
		return tLBrack
	case "]":
		return tRBrack
	case "!":
		return tNot
	case "<":
		return tLT
	case ">":
		return tGT
	case "(":
		return tLParen
	case ")":
		return tRParen
	case "&":
		return tAmp
	case "|":
		return tPipe
	case "^":
		return tCaret
	}
	return tInvalid
}

// matchN matches a number: [0-9]+ or 0[xX][0-9A-Fa-f]+.
func matchN(s string) int {
	if len(s) >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]) {
		n := 3
		for n < len(s) && isHex(s[n]) {
			n++
		}
		return n
	}
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// matchHID matches 2 to 4 numbers separated by dots.
func matchHID(s string) int {
	n := matchN(s)
	if n == 0 {
		return 0
	}
	best, parts := 0, 1
	for parts < 4 && n < len(s) && s[n] == '.' {
		m := matchN(s[n+1:])
		if m == 0 {
			break
		}
		n += 1 + m
		parts++
		best = n
	}
	return best
}

// hexRun returns the length of a run of 1 to max hex digits at s.
func hexRun(s string, max int) int {
	n := 0
	for n < len(s) && n < max && isHex(s[n]) {
		n++
	}
	return n
}

// matchMAC matches the MAC-48 forms of libpcap's scanner.
func matchMAC(s string) int {
	best := 0
	// Groups of one or two hex digits: the separator is the character
	// after the first group (only one of ':', '-' and '.' can match).
	if h := hexRun(s, 2); h > 0 && h < len(s) && (s[h] == ':' || s[h] == '-' || s[h] == '.') {
		best = macGroups(s, s[h])
	}
	// xxxx.xxxx.xxxx
	if len(s) >= 14 && hexRun(s, 4) == 4 && s[4] == '.' && hexRun(s[5:], 4) == 4 && s[9] == '.' && hexRun(s[10:], 4) == 4 && 14 > best {
		best = 14
	}
	if len(s) >= 12 && hexRun(s, 12) == 12 && 12 > best {
		best = 12
	}
	return best
}

// macGroups returns the length of six groups of one or two hex digits
// separated by sep at the start of s, or 0.
func macGroups(s string, sep byte) int {
	n := 0
	for g := 0; g < 6; g++ {
		if g > 0 {
			if n >= len(s) || s[n] != sep {
				return 0
			}
			n++
		}
		h := hexRun(s[n:], 2)
		if h == 0 {
			return 0
		}
		n += h
	}
	return n
}

// matchBadMAC matches {B}:+({B}:+)+, a malformed colon-separated address.
func matchBadMAC(s string) int {
	groups, last, n := 0, 0, 0
	for {
		h := hexRun(s[n:], 2)
		if h == 0 {
			break
		}
		c := 0
		for n+h+c < len(s) && s[n+h+c] == ':' {
			c++
		}
		if c == 0 {
			break
		}
		n += h + c
		groups++
		last = n
	}
	if groups >= 2 {
		return last
	}
	return 0
}

// v6ShortMax bounds the IPv6 shapes without a dotted quad (8 groups of 4
// digits and 7 colons: 39 characters) and the part of any shape up to its
// last colon (30 characters before a quad); a longer match ends in a quad
// of numbers, which libpcap's scanner lets be of any length.
const v6ShortMax = 40

// matchV6 returns the length of the longest prefix of s that has one of the
// IPv6 address shapes of libpcap's scanner. It does work linear in the
// length it matches plus a constant, so lexing stays linear in the
// expression (trying every prefix of a run of address characters was
// cubic in the run's length).
func matchV6(s string) int {
	best := 0
	// Every shape of at most v6ShortMax characters is tried. Before its
	// last colon a shape has only hex digits and colons, never three
	// colons in a row; after it, no colon.
	h, colons, dbl := 0, 0, false
	for h < len(s) && h < v6ShortMax && (isHex(s[h]) || s[h] == ':') {
		if s[h] == ':' {
			if h >= 2 && s[h-1] == ':' && s[h-2] == ':' {
				break
			}
			colons++
			dbl = dbl || h >= 1 && s[h-1] == ':'
		}
		h++
	}
	if colons < 2 || !dbl && colons < 6 {
		// Every shape has "::", or 8 groups, or 6 and a dotted quad: a
		// number, a word or a MAC address is no IPv6 address.
		return 0
	}
	for h < len(s) && h < v6ShortMax && isV6Char(s[h]) && s[h] != ':' {
		h++
	}
	for l := h; l >= 2; l-- {
		if v6Shape(s[:l]) {
			best = l
			break
		}
	}
	// Longer shapes: the last colon comes early and the quad after it is
	// the longest one there (its first three numbers end at the dots; the
	// last is matched greedily), so only that length can match.
	for i := 0; i < h && i <= v6ShortMax-10; i++ {
		if s[i] != ':' {
			continue
		}
		m := matchHID(s[i+1:])
		if m == 0 || i+1+m <= best || strings.Count(s[i+1:i+1+m], ".") != 3 {
			continue
		}
		if v6Shape(s[:i+1+m]) {
			best = i + 1 + m
		}
	}
	return best
}

func isV6Char(c byte) bool {
	return isHex(c) || c == ':' || c == '.' || c == 'x' || c == 'X'
}

// v6Shape reports whether s is groups of 1-4 hex digits separated by ':',
// with at most one "::", optionally ending in a dotted quad of numbers.
func v6Shape(s string) bool {
	quad := false
	if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], '.') >= 0 {
		q := s[i+1:]
		if matchHID(q) != len(q) || strings.Count(q, ".") != 3 {
			return false
		}
		quad = true
		s = s[:i+1]
		if !strings.HasSuffix(s, "::") {
			s = s[:len(s)-1]
		}
	}
	dbl := strings.Count(s, "::")
	if dbl > 1 {
		return false
	}
	if dbl == 1 {
		i := strings.Index(s, "::")
		groups := 0
		for _, part := range [2]string{s[:i], s[i+2:]} {
			if part == "" {
				continue
			}
			n, ok := hexGroups(part)
			if !ok {
				return false
			}
			groups += n
		}
		if quad {
			return groups <= 5
		}
		return groups <= 7
	}
	groups, ok := hexGroups(s)
	if !ok {
		return false
	}
	if quad {
		return groups == 6
	}
	return groups == 8
}

// hexGroups counts the groups of s separated by ':'; ok is false unless
// each is 1 to 4 hex digits. (strings.Split would allocate: the lexer
// tries every number as an IPv6 address.)
func hexGroups(s string) (n int, ok bool) {
	for {
		g, rest, more := strings.Cut(s, ":")
		if len(g) == 0 || len(g) > 4 || hexRun(g, 4) != len(g) {
			return 0, false
		}
		n++
		if !more {
			return n, true
		}
		s = rest
	}
}

// parseNumber converts a number token as libpcap does: 0x hex, leading 0
// octal, else decimal, all limited to 32 bits. It returns libpcap's message
// on error.
func parseNumber(s string) (uint32, string) {
	var n uint64
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		for i := 2; i < len(s); i++ {
			c := s[i]
			var d uint64
			switch {
			case isDigit(c):
				d = uint64(c - '0')
			case c >= 'a' && c <= 'f':
				d = uint64(c-'a') + 10
			case c >= 'A' && c <= 'F':
				d = uint64(c-'A') + 10
			default:
				return 0, "number " + s + " contains non-hex digit"
			}
			if n > 0xFFFFFFF {
				return 0, "hexadecimal number " + s + " overflows 32 bits"
			}
			n = n<<4 + d
		}
	case len(s) >= 1 && s[0] == '0':
		for i := 1; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '7' {
				return 0, "number " + s + " contains non-octal digit"
			}
			if n > 03777777777 {
				return 0, "octal number " + s + " overflows 32 bits"
			}
			n = n<<3 + uint64(c-'0')
		}
	default:
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !isDigit(c) {
				return 0, "number " + s + " contains non-decimal digit"
			}
			n = n*10 + uint64(c-'0')
			if n > 0xFFFFFFFF {
				return 0, "decimal number " + s + " overflows 32 bits"
			}
		}
	}
	return uint32(n), ""
}
