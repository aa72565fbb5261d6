package bpfcompile

import "testing"

// TestLookupReserved checks the one lookup the lexer makes for a word
// against the three tables it stands for, and that every reserved word
// starts with a lower-case letter (lookupReserved looks no other up).
func TestLookupReserved(t *testing.T) {
	words := map[string]bool{"443": true, "Tcp": true, "tcp6": true, "x": true, "0x10": true}
	for w := range keywords {
		words[w] = true
	}
	for w := range pnames {
		words[w] = true
	}
	for w := range numWords {
		words[w] = true
	}
	for w := range words {
		var want reservedWord
		wantOK := true
		if k, ok := keywords[w]; ok {
			want = reservedWord{kind: k, pr: prKeyword}
		} else if q, ok := pnames[w]; ok {
			want = reservedWord{kind: tPName, pq: q, pr: prKeyword}
		} else if _, ok := numWords[w]; ok {
			want = reservedWord{pr: prNumWord}
		} else {
			wantOK = false
		}
		got, ok := lookupReserved(w)
		if ok != wantOK || got != want {
			t.Errorf("%q: %+v %v, want %+v %v", w, got, ok, want, wantOK)
		}
	}
}
