package bpfcompile

import "testing"

// TestCharClass checks the byte classes of charClass against the
// definitions the lexer's scans had before the table.
func TestCharClass(t *testing.T) {
	for i := range 256 {
		c := byte(i)
		hex := c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
		want := map[uint8]bool{
			ccBlank: c == ' ' || c == '\t' || c == '\n' || c == '\r',
			ccHex:   hex,
			ccAddr:  hex || c == ':' || c == '.' || c == 'x' || c == 'X',
		}
		switch c {
		case '(', ')', '[', ']', '!', '&', '|', '+', '-', '*', '/', '%', '^', '<', '>', '=':
			want[ccPunct] = true
		}
		for class, w := range want {
			if got := charClass[c]&class != 0; got != w {
				t.Errorf("byte %#x class %d: %v, want %v", c, class, got, w)
			}
		}
		if isHex(c) != hex {
			t.Errorf("isHex(%#x) = %v", c, !hex)
		}
	}
}
