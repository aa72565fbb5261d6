package bpfcompile

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	kinds := func(toks []token) string {
		var b []string
		for _, t := range toks {
			switch t.kind {
			case tEOF:
				b = append(b, "EOF")
			case tNum:
				b = append(b, "NUM:"+t.text)
			case tID:
				b = append(b, "ID:"+t.text)
			case tHID:
				b = append(b, "HID:"+t.text)
			case tHID6:
				b = append(b, "HID6:"+t.text)
			case tEID:
				b = append(b, "EID:"+t.text)
			case tAID:
				b = append(b, "AID:"+t.text)
			case tPName:
				b = append(b, "P:"+t.text)
			case tError:
				b = append(b, "ERR:"+t.text)
			default:
				b = append(b, t.text)
			}
		}
		return strings.Join(b, " ")
	}
	tests := []struct{ in, want string }{
		{"tcp port 80", "P:tcp port NUM:80 EOF"},
		{"hostx", "ID:hostx EOF"},
		{"10.1.2.3/8", "HID:10.1.2.3 / NUM:8 EOF"},
		{"1.2.3.4.5", "ID:1.2.3.4.5 EOF"},
		{"net-10.example", "ID:net-10.example EOF"},
		{"fe80::1/64", "HID6:fe80::1 / NUM:64 EOF"},
		{"::ffff:1.2.3.4", "HID6:::ffff:1.2.3.4 EOF"},
		{"1:2:3:4:5:6:7:8", "HID6:1:2:3:4:5:6:7:8 EOF"},
		{"a:b:c:d:e:f", "EID:a:b:c:d:e:f EOF"},
		{"abcd.ef00.0003", "EID:abcd.ef00.0003 EOF"},
		{"abcdef000003", "EID:abcdef000003 EOF"},
		{"123456789012", "EID:123456789012 EOF"},
		{"$2a", "AID:$2a EOF"},
		{`\tcp`, "ID:tcp EOF"},
		{"tcp-syn|tcp-ack", "NUM:tcp-syn | NUM:tcp-ack EOF"},
		{"es-is", "P:es-is EOF"},
		{"ip6[40]>=0x10", "P:ip6 [ NUM:40 ] >= NUM:0x10 EOF"},
		{"a&&b||!c", "ID:a && ID:b || ! ID:c EOF"},
		{"x == y != z << >>", "ID:x == ID:y != ID:z << >> EOF"},
		{"portrange 1-1023", "portrange ID:1-1023 EOF"},
		{"23-", "NUM:23 - EOF"},
		{"0x1g", "ID:0x1g EOF"},
		{"09", "ERR:number 09 contains non-octal digit"},
		{"0x100000000", "ERR:hexadecimal number 0x100000000 overflows 32 bits"},
		{"ab:cd:ef:0g:00:00", "ERR:invalid Ethernet address ab:cd:ef:"},
		{"fe80::1.2.3.256", "ERR:invalid IPv6 address fe80::1.2.3.256"},
		{"tcp #", "P:tcp ERR:" + syntaxError + ": illegal character '#'"},
	}
	for _, tt := range tests {
		if got := kinds(lexAll(tt.in)); got != tt.want {
			t.Errorf("lex(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestMatchMAC checks matchMAC, which tries only the separator that
// follows the first group, against trying all three separators, on
// random strings of hex digits and separators.
func TestMatchMAC(t *testing.T) {
	allSeps := func(s string) int {
		best := 0
		for _, sep := range []byte{':', '-', '.'} {
			best = max(best, macGroups(s, sep))
		}
		if len(s) >= 14 && hexRun(s, 4) == 4 && s[4] == '.' && hexRun(s[5:], 4) == 4 && s[9] == '.' && hexRun(s[10:], 4) == 4 && 14 > best {
			best = 14
		}
		if len(s) >= 12 && hexRun(s, 12) == 12 && 12 > best {
			best = 12
		}
		return best
	}
	rng := rand.New(rand.NewPCG(14, 16))
	const alphabet = "0123456789abcdefABCDEFxg:-. "
	matched := 0
	for range 200000 {
		var b []byte
		if rng.IntN(2) == 0 {
			// Groups of one or two hex digits, mostly one separator.
			sep := ":-."[rng.IntN(3)]
			for g := range 4 + rng.IntN(4) {
				if g > 0 {
					if rng.IntN(8) == 0 {
						b = append(b, ":-."[rng.IntN(3)])
					} else {
						b = append(b, sep)
					}
				}
				for range 1 + rng.IntN(2) {
					b = append(b, "0123456789abcdefAF"[rng.IntN(18)])
				}
			}
		} else {
			b = make([]byte, 1+rng.IntN(20))
			for j := range b {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		s := string(b)
		got, want := matchMAC(s), allSeps(s)
		if got != want {
			t.Fatalf("matchMAC(%q) = %d, want %d", s, got, want)
		}
		if got > 0 {
			matched++
		}
	}
	for _, s := range []string{"00:11:22:33:44:55", "0:1:2:3:4:5", "00-11-22-33-44-55", "00.11.22.33.44.55", "0011.2233.4455", "001122334455", "00:11-22:33:44:55"} {
		if got, want := matchMAC(s), allSeps(s); got != want {
			t.Errorf("matchMAC(%q) = %d, want %d", s, got, want)
		}
	}
	if matched < 100 {
		t.Errorf("%d random strings matched, want 100 at least", matched)
	}
}
