package pktsummary

// httpMethods are the request methods after which tcpdump prints the
// first line of an HTTP payload (as it prints it after a status code).
var httpMethods = [...]string{
	"GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY",
	"BMOVE", "MKCOL", "TRACE", "LABEL", "MERGE", "DELETE", "SEARCH",
	"UNLOCK", "REPORT", "UPDATE", "NOTIFY", "BDELETE", "CONNECT", "OPTIONS",
	"CHECKIN", "PROPFIND", "CHECKOUT", "CCM_POST", "SUBSCRIBE", "PROPPATCH",
	"BPROPFIND", "BPROPPATCH", "UNCHECKOUT", "MKACTIVITY", "MKWORKSPACE",
	"UNSUBSCRIBE", "RPC_CONNECT", "VERSION-CONTROL", "BASELINE-CONTROL",
}

func printable(c byte) bool { return c >= 0x20 && c <= 0x7e }

// token is the word at i of the payload (length bytes, b as captured) and
// the index after it and the blanks that follow; 0 when there is none.
func token(b []byte, i, length int) (tok []byte, next int) {
	start := i
	for ; i < length; i++ {
		if i >= len(b) {
			return nil, 0
		}
		c := b[i]
		if c >= 0x80 {
			return nil, 0
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			break
		}
		if !printable(c) || i-start+2 > 129 {
			return nil, 0
		}
	}
	if i == start {
		return nil, 0
	}
	tok = b[start:i]
	for ; i < length && i < len(b); i++ {
		if c := b[i]; c != ' ' && c != '\t' {
			break
		}
	}
	return tok, i
}

func equalFold(a []byte, s string) bool {
	if len(a) != len(s) {
		return false
	}
	for i := range a {
		c := a[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// http prints "HTTP" and, for a request or a response, its first line.
func (d *dec) http(b []byte, length int) {
	d.proto = "http"
	show := false
	tok, i := token(b, 0, length)
	if i != 0 {
		for _, m := range httpMethods {
			if equalFold(tok, m) {
				show = true
				break
			}
		}
		if tok2, j := token(b, i, length); j != 0 {
			tok = tok2
			if len(tok) == 3 && isDigit(tok[0]) && isDigit(tok[1]) && isDigit(tok[2]) {
				show = true
			}
		}
	}
	d.s("HTTP")
	if show {
		d.textLine(b, length)
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// textLine prints ": " and the payload's first line, as tcpdump's text
// protocols do: nothing if it holds a byte that is not text.
func (d *dec) textLine(b []byte, length int) {
	for i := 0; i < length; i++ {
		c := u8(b, i)
		switch {
		case c == '\n':
			d.s(": ")
			d.out = append(d.out, b[:i]...)
			return
		case c == '\r':
			if i+1 >= length || u8(b, i+1) != '\n' {
				return
			}
			d.s(": ")
			d.out = append(d.out, b[:i]...)
			return
		case !printable(c) && c != '\t':
			return
		}
	}
	d.s(": ")
	d.out = append(d.out, b[:length]...)
	d.trunc()
}

// ssh prints an SSH version line ("SSH-2.0-..."), nothing else of SSH.
func (d *dec) ssh(b []byte, length int) {
	d.proto = "ssh"
	if u8(b, 0) != 'S' || u8(b, 1) != 'S' || u8(b, 2) != 'H' || u8(b, 3) != '-' {
		return
	}
	for i := 4; i < length; i++ {
		c := u8(b, i)
		switch {
		case c == '\n':
		case c == '\r':
			if i+1 >= length || u8(b, i+1) != '\n' {
				return
			}
		case !printable(c):
			return
		default:
			continue
		}
		d.s(": SSH: ")
		d.out = append(d.out, b[:i]...)
		return
	}
}
