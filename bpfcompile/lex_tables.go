package bpfcompile

import "strings"

// Classes of bytes for the scans over every byte of a filter (the lexer's
// blanks, tokenBound, longestAddrRun, hex digits): a lookup in charClass
// costs less than the comparisons that define them.
const (
	ccBlank = 1 << iota // ' ', '\t', '\n', '\r'
	ccPunct             // a byte that is or starts punctuation (tokenBound)
	ccHex               // [0-9a-fA-F]
	ccAddr              // a byte of addresses and numbers: hex, ':', '.', 'x', 'X'
)

var charClass = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			t[i] |= ccBlank
		}
		if strings.IndexByte("()[]!&|+-*/%^<>=", c) >= 0 {
			t[i] |= ccPunct
		}
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' {
			t[i] |= ccHex | ccAddr
		}
		if c == ':' || c == '.' || c == 'x' || c == 'X' {
			t[i] |= ccAddr
		}
	}
	return t
}()

// reservedWord is what a reserved word is: a keyword or protocol name
// (pr prKeyword; kind tPName with its qualifier pq for a protocol name),
// or a named number (pr prNumWord).
type reservedWord struct {
	kind tokKind
	pq   pqual
	pr   int
}

// reservedWords is keywords, pnames and numWords in one map, for one
// lookup per word: a word in more than one is what the lexer takes it for
// (a keyword before a protocol name before a named number).
var reservedWords = func() map[string]reservedWord {
	m := make(map[string]reservedWord, len(keywords)+len(pnames)+len(numWords))
	for w := range numWords {
		m[w] = reservedWord{pr: prNumWord}
	}
	for w, q := range pnames {
		m[w] = reservedWord{kind: tPName, pq: q, pr: prKeyword}
	}
	for w, k := range keywords {
		m[w] = reservedWord{kind: k, pr: prKeyword}
	}
	return m
}()

// lookupReserved returns what the word w is if it is a reserved word.
// Every reserved word starts with a lower-case letter: numbers and
// addresses, words too to the lexer, need no lookup.
func lookupReserved(w string) (reservedWord, bool) {
	if w[0] < 'a' || w[0] > 'z' {
		return reservedWord{}, false
	}
	r, ok := reservedWords[w]
	return r, ok
}
