package bpfcompile

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// listing compiles without the optimizer and returns tcpdump -d text.
func listing(t *testing.T, expr string, o Options) string {
	t.Helper()
	o.NoOptimize = true
	prog, err := Compile(expr, o)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	s, err := Listing(prog)
	if err != nil {
		t.Fatalf("Listing: %v", err)
	}
	return s
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// TestCompilePrimitives checks hand-derived programs for one primitive of
// each kind and link-layer flavour.
func TestCompilePrimitives(t *testing.T) {
	eth := Options{LinkType: LinkTypeEthernet}
	tests := []struct {
		name, expr string
		opts       Options
		want       string
	}{
		{"raw ip checks the version nibble", "ip", Options{LinkType: LinkTypeRaw}, lines(
			"(000) ldb      [0]",
			"(001) and      #0xf0",
			"(002) jeq      #0x40            jt 3\tjf 4",
			"(003) ret      #262144",
			"(004) ret      #0")},
		{"ipv4 link type makes ip constant", "ip", Options{LinkType: LinkTypeIPv4, Snaplen: 100}, lines(
			"(000) ld       #0x0",
			"(001) jeq      #0x0             jt 2\tjf 3",
			"(002) ret      #100",
			"(003) ret      #0")},
		{"empty accepts all", "", eth, lines("(000) ret      #262144")},
		{"ethertype", "arp", eth, lines(
			"(000) ldh      [12]",
			"(001) jeq      #0x806           jt 2\tjf 3",
			"(002) ret      #262144",
			"(003) ret      #0")},
		{"vlan offline moves offsets", "vlan 10", eth, lines(
			"(000) ldh      [12]",
			"(001) jeq      #0x8100          jt 6\tjf 2",
			"(002) ldh      [12]",
			"(003) jeq      #0x88a8          jt 6\tjf 4",
			"(004) ldh      [12]",
			"(005) jeq      #0x9100          jt 6\tjf 10",
			"(006) ldh      [14]",
			"(007) and      #0xfff",
			"(008) jeq      #0xa             jt 9\tjf 10",
			"(009) ret      #262144",
			"(010) ret      #0")},
		{"sll inbound reads the packet type", "inbound", Options{LinkType: LinkTypeLinuxSLL}, lines(
			"(000) ldh      [0]",
			"(001) jeq      #0x4             jt 2\tjf 3",
			"(002) ret      #0",
			"(003) ret      #262144")},
		{"live ifindex is an ancillary load", "ifindex 10", Options{LinkType: LinkTypeEthernet, Live: true}, lines(
			"(000) ld       [ifidx]",
			"(001) jeq      #0xa             jt 2\tjf 3",
			"(002) ret      #262144",
			"(003) ret      #0")},
		{"null ip6 is linux AF_INET6 in host order", "ip6", Options{LinkType: LinkTypeNull}, lines(
			"(000) ld       [0]",
			"(001) jeq      #0xa000000       jt 2\tjf 3",
			"(002) ret      #262144",
			"(003) ret      #0")},
		{"loop ip6 is network order", "ip6", Options{LinkType: LinkTypeLoop}, lines(
			"(000) ld       [0]",
			"(001) jeq      #0xa             jt 2\tjf 3",
			"(002) ret      #262144",
			"(003) ret      #0")},
		{"greater", "greater 100", Options{LinkType: LinkTypeRaw, Snaplen: 200}, lines(
			"(000) ld       #pktlen",
			"(001) jge      #0x64            jt 2\tjf 3",
			"(002) ret      #200",
			"(003) ret      #0")},
		{"net prefix masks", "ip src net 10.0.1/24", Options{LinkType: LinkTypeRaw}, lines(
			"(000) ldb      [0]",
			"(001) and      #0xf0",
			"(002) jeq      #0x40            jt 3\tjf 7",
			"(003) ld       [12]",
			"(004) and      #0xffffff00",
			"(005) jeq      #0xa000100       jt 6\tjf 7",
			"(006) ret      #262144",
			"(007) ret      #0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listing(t, tt.expr, tt.opts); got != tt.want {
				t.Errorf("Compile(%q):\n--- want\n%s--- got\n%s", tt.expr, tt.want, got)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	res, err := NewFileResolver(confPath(t, "fixtures"))
	if err != nil {
		t.Fatalf("fixtures: %v", err)
	}
	eth := Options{LinkType: LinkTypeEthernet, Resolver: res}
	tests := []struct {
		name, expr string
		opts       Options
		want       string // full error text
	}{
		{"port range", "tcp port 99999", eth, "bpf: 1:10: port number 99999 greater than maximum 65535"},
		{"second primitive", "tcp and vlan 4096", eth, "bpf: 1:9: VLAN tag 4096 greater than maximum 4095"},
		{"offline inbound", "inbound", eth, "bpf: 1:1: not a live capture, 'inbound' not supported on DLT_EN10MB"},
		{"vlan on raw", "vlan", Options{LinkType: LinkTypeRaw}, "bpf: 1:1: 'vlan' not supported on DLT_RAW"},
		{"netmask", "ip broadcast", Options{LinkType: LinkTypeEthernet, Netmask: NetmaskUnknown}, "bpf: 1:1: netmask not known, so 'ip broadcast' not supported"},
		{"unknown host", "host no-such-host.libpcap.test", eth, "bpf: 1:6: unknown host 'no-such-host.libpcap.test'"},
		{"qualifier", "tcp host 1.2.3.4", eth, "bpf: 1:10: 'tcp' is not a valid qualifier for 'host <IPv4 address>'"},
		{"rejects all", "ip and not ip", eth, "bpf: 1:1: expression rejects all packets"},
		{"size", "ip[0:3] = 1", eth, "bpf: 1:1: data size must be 1, 2, or 4"},
		{"division", "ip[0] / 0 = 1", eth, "bpf: 1:7: division by zero"},
		{"bits", "net 10.0.0.1/8", Options{LinkType: LinkTypeRaw}, "bpf: 1:5: non-network bits set in \"10.0.0.1/8\""},
		{"bits with mask", "net 10.0.0.1 mask 255.0.0.0", eth, "bpf: 1:5: non-network bits set in \"10.0.0.1 mask 255.0.0.0\""},
		{"number qualifier", "gateway 10", eth, "bpf: 1:9: 'gateway' is not a valid qualifier for '10'"},
		{"link number", "link host 10", eth, "bpf: 1:11: illegal link-layer address '10'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := Compile(tt.expr, tt.opts)
			if prog != nil {
				t.Errorf("Compile(%q) returned a program with the error", tt.expr)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile(%q) = %v, want *Error", tt.expr, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile(%q) error\n got %s\nwant %s", tt.expr, err, tt.want)
			}
		})
	}
}

// TestCompileProtochainUserSpace checks that protochain keeps its
// backward jump (run in user space) and is not optimized.
func TestCompileProtochainUserSpace(t *testing.T) {
	prog, err := Compile("ip6 protochain 17", Options{LinkType: LinkTypeRaw})
	if err != nil {
		t.Fatal(err)
	}
	back := false
	for i, ins := range prog {
		if j, ok := ins.(bpf.Jump); ok && int32(j.Skip) < 0 {
			back = true
			if target := i + 1 + int(int32(j.Skip)); target < 0 || target >= len(prog) {
				t.Errorf("jump at %d leaves the program", i)
			}
		}
	}
	if !back {
		t.Errorf("no backward jump in protochain program")
	}
	if KernelCanRun(prog) {
		t.Errorf("KernelCanRun = true for a program with a loop")
	}
}

// TestCompileLongJump checks that a branch over more than 255
// instructions goes through a long jump and stays correct.
func TestCompileLongJump(t *testing.T) {
	var terms []string
	for i := 0; i < 60; i++ {
		terms = append(terms, "ip[1] = 1")
	}
	expr := "(" + strings.Join(terms, " and ") + ") or tcp"
	prog, err := Compile(expr, Options{LinkType: LinkTypeEthernet, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	long := 0
	for _, ins := range prog {
		if j, ok := ins.(bpf.Jump); ok && j.Skip > 255 {
			long++
		}
	}
	if long == 0 {
		t.Fatalf("no long jump in a %d-instruction program", len(prog))
	}
	if err := Check(prog); err != nil {
		t.Errorf("Check: %v", err)
	}
	vm, err := NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	// An Ethernet/IPv4/TCP frame: ip[1] is 0, so only "or tcp" matches.
	pkt := make([]byte, 54)
	pkt[12], pkt[13] = 0x08, 0x00
	pkt[14] = 0x45
	pkt[23] = 6
	if got := vm.Run(pkt, len(pkt), nil); got != defaultSnaplen {
		t.Errorf("tcp frame: got %d, want %d", got, defaultSnaplen)
	}
	pkt[23] = 17
	if got := vm.Run(pkt, len(pkt), nil); got != 0 {
		t.Errorf("udp frame: got %d, want 0", got)
	}
}

// TestCompileErrorOrder checks that an error in a complete primitive is
// reported before a later syntax error, as libpcap reports it.
func TestCompileErrorOrder(t *testing.T) {
	_, err := Compile("tcp port 99999 and (", Options{LinkType: LinkTypeEthernet})
	if err == nil || !strings.Contains(err.Error(), "port number 99999") {
		t.Errorf("err = %v, want the port error", err)
	}
	_, err = Compile("tcp port 80 and (", Options{LinkType: LinkTypeEthernet})
	if err == nil || !strings.Contains(err.Error(), syntaxError) {
		t.Errorf("err = %v, want a syntax error", err)
	}
}

// TestToInstruction checks that the typed instruction Compile returns for
// every raw one assembles back to it (the fast paths for the common
// opcodes included).
func TestToInstruction(t *testing.T) {
	for op := 0; op < 0x100; op++ {
		for _, k := range []uint32{0, 1, 14, 0x1fff, 0xfffff000, 0xfffff004, 0xffffffff} {
			r := bpf.RawInstruction{Op: uint16(op), K: k, Jt: 3, Jf: 7}
			if op&0x07 != cbpf.JMP || op == cbpf.JMP|cbpf.JA {
				r.Jt, r.Jf = 0, 0
			}
			ins := toInstruction(r)
			back, err := ins.Assemble()
			if err != nil || back != r {
				t.Errorf("%#v: %T assembles to %#v, %v", r, ins, back, err)
			}
		}
	}
}
