package transport

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// PeekBytes is how much of a message PeekRequest reads.
const PeekBytes = 4 << 10

// Peek is what PeekRequest found at the start of a message. Nothing in it
// is checked or verified: it only says whom to answer about a message that
// will not be read in full.
type Peek struct {
	ID     string // "" when not found
	Node   string
	NodeRE string
	// HasNode and HasNodeRE say that "node" or "nodere" was found (as a
	// string); without either, the message may be for any node.
	HasNode, HasNodeRE bool
}

// PeekRequest looks for the top-level "id", "node" and "nodere" strings of
// a capture request in the first PeekBytes of msg, without reading the
// rest: for a message dropped unread (too large, or no room to queue it)
// whose requester should still get an answer. In a signed envelope it
// looks in the "body" string, as far as that string has begun within
// those bytes. The first occurrence of a key wins; a value that is not a
// string, or that the prefix cuts, is not found.
func PeekRequest(msg []byte) Peek {
	var p Peek
	peekObject(msg[:min(len(msg), PeekBytes)], &p, true)
	return p
}

// peekObject reads the members of the JSON object at the start of b into
// p, as far as b goes. envelope allows one level of "body" string.
func peekObject(b []byte, p *Peek, envelope bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys
		afterKey := dec.InputOffset()
		tok, err = dec.Token()
		if err != nil {
			if envelope && key == "body" {
				// The body string runs past the prefix: read what of it
				// is there.
				peekObject(stringPrefix(b[afterKey:]), p, false)
			}
			return
		}
		switch v := tok.(type) {
		case string:
			switch key {
			case "id":
				if p.ID == "" {
					p.ID = v
				}
			case "node":
				if !p.HasNode {
					p.Node, p.HasNode = v, true
				}
			case "nodere":
				if !p.HasNodeRE {
					p.NodeRE, p.HasNodeRE = v, true
				}
			case "body":
				if envelope {
					peekObject([]byte(v), p, false)
				}
			}
		case json.Delim: // an object or array value: step over it
			if !skipValue(dec) {
				return
			}
		}
	}
}

// skipValue reads tokens until the object or array just opened is closed;
// it reports false when the input ends first.
func skipValue(dec *json.Decoder) bool {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

// stringPrefix decodes the JSON string value that follows a key in raw
// (`: "...`), as far as raw holds it: up to its closing quote, or to the
// end of raw, dropping an escape that raw cuts.
func stringPrefix(raw []byte) []byte {
	i := 0
	skipSpace := func() {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
			i++
		}
	}
	skipSpace()
	if i >= len(raw) || raw[i] != ':' {
		return nil
	}
	i++
	skipSpace()
	if i >= len(raw) || raw[i] != '"' {
		return nil
	}
	i++
	out := make([]byte, 0, len(raw)-i)
	for i < len(raw) {
		c := raw[i]
		if c == '"' {
			break
		}
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			break
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, ok := unicodeEscape(raw[i:])
			if !ok {
				return out
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			return out
		}
		i += 2
	}
	return out
}

// unicodeEscape decodes the \uXXXX escape (or surrogate pair of them) at
// the start of b, returning the rune and the bytes it took; ok is false
// when b cuts it or it is malformed.
func unicodeEscape(b []byte) (r rune, n int, ok bool) {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok = hex4(b)
	if !ok {
		return 0, 0, false
	}
	if !utf16.IsSurrogate(r) {
		return r, 6, true
	}
	if r2, ok2 := hex4(b[6:]); ok2 {
		if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
			return d, 12, true
		}
	}
	return utf8.RuneError, 6, true
}
