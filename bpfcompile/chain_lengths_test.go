package bpfcompile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

// TestChainLengths checks that chains of alternatives compile no longer
// than libpcap compiles them (pcap_compile, optimizer on, EN10MB): the
// lengths of libpcap 1.10.6 and of master (f26ae497), measured with
// scripts/libpcap/bench.c. Master's shape of "port" makes chains of
// untyped ports long (20 ports 431 instructions, 200 ports 4937: more
// than the kernel takes); from three ports on, Compile makes 1.10's.
func TestChainLengths(t *testing.T) {
	join := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, " or ")
	}
	tests := []struct {
		name         string
		expr         string
		v110, master int
		max          int // what Compile may make
	}{
		{"20 ports", bpftest.PortChain(20), 81, 431, 81},
		{"200 ports", bpftest.PortChain(200), 973, 4937, 973},
		{"3 ports", "port 22 or 80 or 443", 30, 62, 30},
		// Two ports keep master's shape, and master's verdicts on packets
		// cut between the source and destination port (see minPortChain).
		{"2 ports", "port 80 or 443", 27, 43, 43},
		{"20 tcp ports", bpftest.TCPPortChain(20), 77, 77, 77},
		{"50 tcp ports", bpftest.TCPPortChain(50), 167, 167, 167},
		{"20 udp ports", join(20, func(i int) string { return fmt.Sprintf("udp port %d", i+1) }), 77, 77, 77},
		{"20 tcp source ports", join(20, func(i int) string { return fmt.Sprintf("tcp src port %d", i+1) }), 35, 35, 35},
		{"10 source and 10 destination ports", join(10, func(i int) string { return fmt.Sprintf("src port %d or dst port %d", i+1, i+1000) }), 51, 320, 51},
		{"10 port ranges", join(10, func(i int) string { return fmt.Sprintf("portrange %d-%d", 100*i, 100*i+50) }), 135, 234, 135},
		{"20 hosts", join(20, func(i int) string { return fmt.Sprintf("host 10.0.0.%d", i+1) }), 71, 71, 71},
		{"20 nets", join(20, func(i int) string { return fmt.Sprintf("net 10.%d.0.0/16", i) }), 246, 246, 246},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := Compile(tt.expr, Options{LinkType: LinkTypeEthernet, Netmask: NetmaskUnknown})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d instructions (libpcap 1.10: %d, master: %d)", len(prog), tt.v110, tt.master)
			if len(prog) > tt.max {
				t.Errorf("%d instructions, want %d at most (libpcap 1.10: %d, master: %d)", len(prog), tt.max, tt.v110, tt.master)
			}
		})
	}
	// The bound for 200 ports, whatever libpcap makes.
	if prog, err := Compile(bpftest.PortChain(200), Options{LinkType: LinkTypeEthernet}); err != nil || len(prog) > 1000 {
		t.Errorf("200 ports: %d instructions, %v; want 1,000 at most", len(prog), err)
	}
}
