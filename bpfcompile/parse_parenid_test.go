package bpfcompile

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestNoParenID checks parseOperand's shortcut: wherever noParenID says
// the identifier list at a '(' fails, the try it spares fails too, and
// leaves the parser's steps and furthest error where noParenID leaves
// them; and a shortcut is taken on the expressions it is for ("host H
// and (tcp port 80 or ...)").
func TestNoParenID(t *testing.T) {
	exprs := []string{
		"host 198.18.0.1 and (tcp port 80 or tcp port 443)",
		"host 198.18.0.1 and ((tcp port 80) or udp)",
		"host 198.18.0.1 and (((((not tcp)))))",
		"host 198.18.0.1 and (10.0.0.1 or 10.0.0.2)",
		"port 80 and ((81) or 82)",
		"port 80 or ((81))",
		"port 80 and (ip[0] & 0xf > 5)",
		"port 80 and ( )",
		"port 80 and (",
		"port 80 and ((",
		"tcp and (ether host 00:11:22:33:44:55 or $1)",
		"tcp and (\\foo or bar)",
		"tcp and (- 1 = 1)",
		"host a and (b or (c))",
	}
	rng := rand.New(rand.NewPCG(14, 15))
	for _, dlt := range []string{"EN10MB", "RAW"} {
		for range 500 {
			exprs = append(exprs, bpftest.RandomExpr(rng, dlt))
		}
	}
	for range 300 {
		var b strings.Builder
		b.WriteString("port 1")
		for range 1 + rng.IntN(4) {
			b.WriteString([]string{" and ", " or "}[rng.IntN(2)])
			b.WriteString(strings.Repeat("(", rng.IntN(4)))
			b.WriteString([]string{"tcp", "2", "10.0.0.1", "not", "x", "-", "ip[0]", ")", "udp port 3", "host y"}[rng.IntN(10)])
		}
		exprs = append(exprs, b.String())
	}
	taken := 0
	for _, e := range exprs {
		toks := lexAll(e)
		for p := range toks {
			if toks[p].kind != tLParen || p == 0 {
				continue
			}
			short := &parser{src: e, toks: toks, p: p, errTok: -1, depth: 3, steps: 10}
			tried := *short
			func() {
				defer func() { _ = recover() }() // lexical errors: both see them
				if !short.noParenID() {
					return
				}
				taken++
				if tried.try(func() { tried.parseID(qualUndef) }) {
					t.Errorf("%q at token %d: the shortcut is taken, the try succeeds", e, p)
				}
				if tried.steps != short.steps || tried.errTok != short.errTok || tried.p != short.p || tried.depth != short.depth {
					t.Errorf("%q at token %d: after the try steps %d, furthest error %d, at %d, depth %d; after the shortcut %d, %d, %d, %d",
						e, p, tried.steps, tried.errTok, tried.p, tried.depth, short.steps, short.errTok, short.p, short.depth)
				}
			}()
		}
	}
	if taken < 50 {
		t.Errorf("the shortcut was taken %d times, want at least 50", taken)
	}
}
