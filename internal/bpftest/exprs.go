package bpftest

import (
	"fmt"
	"strings"
)

// LongExpr is a generated expression of a shape that stresses the
// optimizer: long chains of alternatives, long conjunctions with negations,
// deep nesting.
type LongExpr struct {
	Name string
	Expr string
}

// PortChain is "port 1 or port 2 or ... or port n".
func PortChain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("port %d", i+1)
	}
	return strings.Join(parts, " or ")
}

// HostChain is "host H0 and not host H1 and not host H2 ...", n hosts in
// all; mixed makes it "host H0 and not host H1 or host H2 and not host H3
// ...".
func HostChain(n int, mixed bool) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		switch {
		case i == 0:
		case mixed && i%2 == 0:
			b.WriteString(" or ")
		default:
			b.WriteString(" and not ")
		}
		fmt.Fprintf(&b, "host 198.18.%d.%d", i/250, i%250+1)
	}
	return b.String()
}

// Nested is n levels of "((a or b) and (c or d))" with a fresh port and
// host at every level.
func Nested(n int) string {
	e := "tcp port 1"
	for i := 0; i < n; i++ {
		e = fmt.Sprintf("((%s or udp port %d) and (host 198.18.0.%d or not icmp))", e, i+2, i%250+1)
	}
	return e
}

// LongExprs returns the long expressions the optimizer's tests and the
// compiler's benchmarks run: chains of 10, 40 and 100 ports and hosts, a
// mixed host chain and nesting 5, 10 and 20 deep.
func LongExprs() []LongExpr {
	var out []LongExpr
	for _, n := range []int{10, 40, 100} {
		out = append(out, LongExpr{fmt.Sprintf("ports=%d", n), PortChain(n)})
	}
	for _, n := range []int{10, 40, 100} {
		out = append(out, LongExpr{fmt.Sprintf("hosts=%d", n), HostChain(n, false)})
	}
	out = append(out, LongExpr{"hostsmixed=40", HostChain(40, true)})
	for _, n := range []int{5, 10, 20} {
		out = append(out, LongExpr{fmt.Sprintf("nested=%d", n), Nested(n)})
	}
	return out
}

// SpeedCase is a filter whose compile time is compared with libpcap's.
type SpeedCase struct {
	Name, Expr string
	// Long marks the long chains: never slower than libpcap. The others
	// are typical filters: at most twice libpcap's time, median.
	Long bool
}

// SpeedCases are ten typical filters and five long chains, the compile
// benchmark's (scripts/compilebench, bpfcompile's BenchmarkCompileTypical).
func SpeedCases() []SpeedCase {
	return []SpeedCase{
		{"tcp port 443", "tcp port 443", false},
		{"host H and (tcp port 80 or tcp port 443)", "host 198.18.0.1 and (tcp port 80 or tcp port 443)", false},
		{"net 10.0.0.0/8 and not port 22", "net 10.0.0.0/8 and not port 22", false},
		{"ether host M", "ether host 00:11:22:33:44:55", false},
		{"50 nested parentheses", strings.Repeat("(", 50) + "tcp port 80" + strings.Repeat(")", 50), false},
		{"udp port 53", "udp port 53", false},
		{"icmp or arp", "icmp or arp", false},
		{"src host H and dst port 8080", "src host 198.18.0.1 and dst port 8080", false},
		{"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", false},
		{"ip6 and tcp dst portrange 6000-6063", "ip6 and tcp dst portrange 6000-6063", false},
		{"port 1 or ... or port 20", PortChain(20), true},
		{"tcp port 1 or ... or tcp port 50", TCPPortChain(50), true},
		{"port 1 or ... or port 200", PortChain(200), true},
		{"host chain of 100", HostChain(100, false), true},
		{"nested 20", Nested(20), true},
	}
}

// TCPPortChain is "tcp port 1 or tcp port 2 or ... or tcp port n".
func TCPPortChain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("tcp port %d", i+1)
	}
	return strings.Join(parts, " or ")
}

// MACChain is "ether src M1 or ether src M2 or ...", n MAC addresses that
// differ in both halves: each test keeps its four instructions (two
// loads, two comparisons) when optimized, so 1,100 of them do not fit the
// kernel's 4,096.
func MACChain(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("ether src %02x:%02x:aa:bb:%02x:%02x", i>>8, i&0xff, i>>8, i&0xff)
	}
	return strings.Join(parts, " or ")
}
