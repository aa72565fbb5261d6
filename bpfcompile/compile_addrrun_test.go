package bpfcompile

import (
	"math/rand/v2"
	"testing"
)

// TestLongestAddrRun checks longestAddrRun against its definition: the
// first longest run of hex digits, ':', '.', 'x' and 'X'.
func TestLongestAddrRun(t *testing.T) {
	ref := func(s string) (off, n int) {
		for i := range len(s) {
			j := i
			for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.' || s[j] == 'x' || s[j] == 'X') {
				j++
			}
			if j-i > n {
				off, n = i, j-i
			}
		}
		return off, n
	}
	srcs := []string{"", "x", "g", "host 198.18.0.1 and port 80", "fe80::1 or ::", "zz 0x1f zz 12345", "a:b:c", "1.2 3.4.5"}
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0a:.xXg -("
	for range 5000 {
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		srcs = append(srcs, string(b))
	}
	for _, s := range srcs {
		gotOff, gotN := longestAddrRun(s)
		wantOff, wantN := ref(s)
		if gotOff != wantOff || gotN != wantN {
			t.Errorf("%q: %d at %d, want %d at %d", s, gotN, gotOff, wantN, wantOff)
		}
	}
}
