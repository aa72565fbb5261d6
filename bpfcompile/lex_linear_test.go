package bpfcompile

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// matchV6Ref is the plain statement of matchV6: the longest prefix of the
// run of address characters that has an IPv6 shape, every prefix tried.
// It is cubic in the run's length; matchV6 must agree with it.
func matchV6Ref(s string) int {
	n := 0
	for n < len(s) && isV6Char(s[n]) {
		n++
	}
	for l := n; l >= 2; l-- {
		if v6Shape(s[:l]) {
			return l
		}
	}
	return 0
}

// v6Samples returns generated strings near IPv6 shapes: random groups,
// colons, double colons and dotted quads with numbers of any length,
// leading zeros and hex, and stray characters.
func v6Samples(r *rand.Rand, count int) []string {
	pieces := []string{"0", "1", "f", "ab", "ffff", "12345", ":", ":", "::", ":::", ".", "1.2.3.4", "0x1f", "0X", "00000000000000000001", "255", "x", "g", " ", "9.9", "0xffffffffffff"}
	out := make([]string, 0, count)
	for range count {
		var b strings.Builder
		for k := r.IntN(24); k >= 0; k-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		out = append(out, b.String())
	}
	return out
}

// TestMatchV6SameAsReference checks the linear matchV6 against the
// exhaustive reference on fixed and generated strings, at every offset.
func TestMatchV6SameAsReference(t *testing.T) {
	fixed := []string{
		"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:1.2.3.4",
		"::ffff:1.2.3.4", "::ffff:1.2.3.4.5", "::1.2.3.00000000000000000000000000000000000004",
		"::ffff:0x1.0x2.0x3.0xffffffffffffffffffffffffffffffffffff", "1:2:3:4:5::1.2.3.4",
		"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "a:b:c:d:e:f:1.2.3.4:5", "1:::2",
		strings.Repeat(":", 100), strings.Repeat("1:", 50), strings.Repeat("ab:", 30) + "1.2.3.4",
	}
	samples := append(fixed, v6Samples(rand.New(rand.NewPCG(1, 2)), 20000)...)
	for _, s := range samples {
		for i := range len(s) {
			if got, want := matchV6(s[i:]), matchV6Ref(s[i:]); got != want {
				t.Fatalf("matchV6(%q) = %d, reference %d", s[i:], got, want)
			}
		}
	}
}

// FuzzMatchV6 checks matchV6 against the reference on any input.
func FuzzMatchV6(f *testing.F) {
	for _, s := range []string{"::", "1:2:3:4:5:6:1.2.3.4", "::ffff:0x1.2.3.0000000000000000000004", "1:::2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 512 {
			s = s[:512] // the reference is cubic
		}
		if got, want := matchV6(s), matchV6Ref(s); got != want {
			t.Fatalf("matchV6(%q) = %d, reference %d", s, got, want)
		}
	})
}

// addrRuns are 8 KiB runs of the characters addresses are made of, the
// worst inputs for a lexer that rescans them.
func addrRuns() map[string]string {
	const n = 8 << 10
	fill := func(unit string) string { return strings.Repeat(unit, n/len(unit)+1)[:n] }
	return map[string]string{
		"colons":     fill(":"),
		"hex":        fill("a"),
		"hex colons": fill("1:"),
		"groups":     fill("abcd:"),
		"double":     fill("1::"),
		"dots":       fill("1."),
		"quads":      fill("::1.2.3.4"),
		"long quad":  "::1.2.3." + fill("0"),
		"mixed":      fill("f:0x1.:9::ab."),
		"badmac":     "1" + fill(":") + "z",
	}
}

// TestLexLinear checks that lexing 8 KiB runs of address characters is
// quick: tens of microseconds to a few milliseconds each when linear (a
// run of 3000 colons took 90 s when every prefix was tried). The bound is
// loose against a loaded machine.
func TestLexLinear(t *testing.T) {
	for name, src := range addrRuns() {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			toks := lexAll(src)
			_, _ = Parse(src)
			took := time.Since(start)
			t.Logf("%d tokens in %v", len(toks), took)
			if took > time.Second {
				t.Errorf("lexing and parsing took %v", took)
			}
		})
	}
}

// BenchmarkLexAddrRun measures lexing 8 KiB runs of address characters.
func BenchmarkLexAddrRun(b *testing.B) {
	for name, src := range addrRuns() {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				lexAll(src)
			}
		})
	}
}
