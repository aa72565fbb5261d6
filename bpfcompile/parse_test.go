package bpfcompile

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "<nil>"},
		{"proto", "tcp", "tcp"},
		{"host", "host 198.18.0.1", "host 198.18.0.1"},
		{"inherit host", "host 198.18.0.1 or 198.18.0.2", "(host 198.18.0.1 or host 198.18.0.2)"},
		{"inherit port", "port 80 or 443", "(port 80 or port 443)"},
		{"inherit full", "tcp dst port 80 or 443 and not 8080",
			"((tcp dst port 80 or tcp dst port 443) and not tcp dst port 8080)"},
		{"and or same precedence", "tcp or udp and icmp", "((tcp or udp) and icmp)"},
		{"parens", "tcp or (udp and icmp)", "(tcp or (udp and icmp))"},
		{"symbols", "!tcp && udp || icmp", "((not tcp and udp) or icmp)"},
		{"src or dst", "src or dst host a.example", "src or dst host a.example"},
		{"dst and src", "dst and src net 10.0.0.0/8", "src and dst net 10.0.0.0/8"},
		{"mask", "net 10.1.0.0 mask 255.255.0.0", "net 10.1.0.0 mask 255.255.0.0"},
		{"short net", "net 10.1", "net 10.1"},
		{"ipv6 prefix", "ip6 net fe80::/10", "ip6 net fe80::/10"},
		{"ether", "ether src 00:11:22:33:44:55", "link src 00:11:22:33:44:55"},
		{"proto name", `ip proto \tcp`, "ip proto tcp"},
		{"protochain", "ip6 protochain 17", "ip6 protochain 17"},
		{"gateway", "gateway gw.example", "gateway gw.example"},
		{"parenthesized id list", "host a.example and (b.example or c.example)",
			"(host a.example and (host b.example or host c.example))"},
		{"paren pnum", "port (80)", "port 80"},
		{"not id inherits", "host a.example and not b.example", "(host a.example and not host b.example)"},
		{"paren expr keeps qualifiers", "port 80 or (udp) or 53", "((port 80 or udp) or port 53)"},
		{"relation", "ip[0] & 0xf > 5", "((ip[0:1] & 15) > 5)"},
		{"accessor size", "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0", "((tcp[13:1] & (2 | 16)) != 0)"},
		{"precedence", "len - 1 * 2 + 3 << 1 | 4 & 5 = 0", "(((((len - (1 * 2)) + 3) << 1) | (4 & 5)) = 0)"},
		{"percent grabs the rest", "1 + 2 % 3 + 4 = 0", "((1 + (2 % (3 + 4))) = 0)"},
		{"unary minus", "-1 * 2 = 0", "((-1 * 2) = 0)"},
		{"hex octal", "0x10 = 020", "(16 = 16)"},
		{"icmp names", "icmp[icmptype] = icmp-echo", "(icmp[0:1] = 8)"},
		{"vlan", "vlan 10 and vlan", "(vlan 10 and vlan)"},
		{"vlan pnum", "vlan (10)", "vlan 10"},
		{"mpls pppoes", "mpls 3 or pppoes 7 or pppoed", "((mpls 3 or pppoes 7) or pppoed)"},
		{"geneve vxlan", "geneve 5 and vxlan", "(geneve 5 and vxlan)"},
		{"less greater", "less 100 or greater 200", "(less 100 or greater 200)"},
		{"byte", "byte 8 == 5", "byte 8 = 5"},
		{"broadcast", "ether broadcast or ip multicast", "(link broadcast or ip multicast)"},
		{"inbound", "inbound and ifindex 3", "(inbound and ifindex 3)"},
		{"llc", "llc rnr", "llc rnr"},
		{"portrange", "tcp portrange 1-1023", "tcp portrange 1-1023"},
		{"mac dotted", "ether host abcd.ef00.0003", "link host abcd.ef00.0003"},
		{"backslash", `ether proto \ip6`, "link proto ip6"},
		{"multiline", "\n\ttcp\n\tand udp\n", "(tcp and udp)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			got := "<nil>"
			if n != nil {
				got = n.String()
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in  string
		line, col int
		msg       string
	}{
		{"bare number", "80", 1, 3, syntaxError},
		{"trailing and", "tcp and", 1, 8, syntaxError},
		{"unbalanced", "(tcp", 1, 5, syntaxError},
		{"src proto", "src proto 1", 1, 5, syntaxError},
		{"byte geq", "byte 1 >= 2", 1, 8, syntaxError},
		{"portrange open", "tcp portrange 23-", 1, 17, syntaxError},
		{"vlan name", "vlan any", 1, 6, syntaxError},
		{"non-octal", "08", 1, 1, "number 08 contains non-octal digit"},
		{"overflow", "ip[4294967296] = 0", 1, 4, "decimal number 4294967296 overflows 32 bits"},
		{"bad mac", "ether ab:cd:ef:0g:00:00", 1, 7, "invalid Ethernet address"},
		{"bad ipv6", "ip6 host fe80::256.20.30.40", 1, 10, "invalid IPv6 address"},
		{"second line", "tcp and\n  udp udp", 2, 7, syntaxError},
		{"illegal char", "tcp and #", 1, 9, syntaxError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error = %v, want *Error", tt.in, err)
			}
			if e.Pos.Line != tt.line || e.Pos.Col != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Parse(%q) = %d:%d %q, want %d:%d containing %q", tt.in, e.Pos.Line, e.Pos.Col, e.Msg, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	deep := strings.Repeat("(", 5000) + "tcp" + strings.Repeat(")", 5000)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: err = %v", err)
	}
	if _, err := Parse(strings.Repeat("tcp or ", maxExprLen)); err == nil {
		t.Errorf("overlong expression accepted")
	}
	neg := strings.Repeat("-", 5000) + "1 = 0"
	if _, err := Parse(neg); err == nil {
		t.Errorf("deep unary minus accepted")
	}
}
