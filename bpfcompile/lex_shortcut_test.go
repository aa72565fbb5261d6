package bpfcompile

import (
	"math/rand/v2"
	"testing"
)

// TestLexShortcuts checks that lexOne's shortcuts for numbers, MAC and
// IPv4 addresses and words scan the same token as trying every pattern
// (lexMatch) does: runs of digits of every length, addresses of every
// form and words of letters and hex digits, reserved or not, each
// followed by every byte, and random strings of the bytes tokens are made
// of.
func TestLexShortcuts(t *testing.T) {
	var heads []string
	digits := "1234567890123"
	for n := 1; n <= len(digits); n++ {
		heads = append(heads, digits[:n], "0"+digits[:n-1])
	}
	heads = append(heads, "0x1f", "99999999999", "4294967296", "00", "0777", "08",
		"00:11:22:33:44:55", "0:1:2:3:4:5", "00-11-22-33-44-55", "0011.2233.4455", "001122334455",
		"00:11:22:33:44:55:66:77", "00:11:22:33:44", "1234.5678.9012", "1234.5678.9012.5", "198.18.0.1",
		"1.2.3.4.5", "10.0.0", "1.2", "1.", "1:2:3:4:5:6:1.2.3.4", "fe80::1", "::1", "a:b:c:d:e:f",
		"ab:cd:ef:01:23:45", "ab.cd", "abcd.ef01.2345", "0.0.0.0", "255.255.255.255", "1.2.3.4.5.6.7.8")
	for w := range reservedWords {
		heads = append(heads, w)
	}
	heads = append(heads, "a", "ab", "abc", "add", "dead", "beef", "deadbeefcafe", "fe80", "ax", "ag", "Ag", "aG", "xyz", "a-b", "a_b", "a.b", "ab.cd", "ff", "eth0", "fe", "abcd.efgh.ijkl")
	var srcs []string
	for _, h := range heads {
		for c := range 256 {
			srcs = append(srcs, h+string(rune(c))[:1], h+string([]byte{byte(c)})+"1")
		}
		srcs = append(srcs, h)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789abcdefgxzABFGX:.-_ ()$\\!=<>/"
	for range 20000 {
		b := make([]byte, 1+rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		srcs = append(srcs, string(b))
	}
	for _, src := range srcs {
		if src[0] == ' ' {
			continue
		}
		got, gotEnd := lexOne(src, 0)
		want, wantEnd := lexMatch(src, 0)
		if got != want || gotEnd != wantEnd {
			t.Errorf("%q: lexOne %+v to %d, lexMatch %+v to %d", src, got, gotEnd, want, wantEnd)
		}
	}
}
