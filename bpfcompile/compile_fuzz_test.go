package bpfcompile

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

var fuzzSeeds = []string{
	"", "tcp", "host 198.18.0.1 or 198.18.0.2", "tcp port 80 or 443", "not (udp or icmp)",
	"ip[2:2] - 20 % 3 > 5", "-len + 3 * 2 ^ 1 < 100", "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0",
	"vlan 10 and vlan 20 and ip", "mpls 5 and ip6", "pppoes 7 and tcp", "geneve 3 and ether host 1:2:3:4:5:6",
	"vxlan and multicast", "ip6 protochain 6", "ip6 net fe80::/10", "net 10.1 mask 255.255.0.0",
	"ether proto \\ipx", "llc rnr", "decnet src 10.20", "icmp6[icmp6type] = icmp6-echo",
	"portrange 1-1023", "inbound", "ifindex 3", "ip broadcast", "byte 3 & 1", "((((tcp))))",
	"host a.example and (b.example or not c.example)", "gateway gw.example", "08", "ab:cd:ef:0g:00:00",
}

// FuzzParse checks that the parser never panics, and that it returns an
// *Error exactly when it returns no tree for a non-blank input.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		n, err := Parse(expr)
		if err != nil {
			if n != nil {
				t.Fatalf("Parse(%q) returned a tree and an error", expr)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q) error %T, want *Error", expr, err)
			}
			return
		}
		if n == nil && strings.TrimSpace(expr) != "" {
			t.Fatalf("Parse(%q) returned neither tree nor error", expr)
		}
		if n != nil {
			_ = n.String()
		}
	})
}

// FuzzCompile checks that Compile never panics, returns an error exactly
// when it returns no program, and that every program either passes the
// kernel checker or is a protochain walk meant for user space; programs
// run in the interpreter without trouble.
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		for _, lt := range []uint8{0, 1, 2, 3, 8, 16, 40, 100} {
			f.Add(s, lt, false)
		}
	}
	res, err := NewFileResolver(f.TempDir()) // names never resolve: no DNS
	if err != nil {
		f.Fatal(err)
	}
	// The Linux link types first (the seeds' 0..3), then every other one.
	lts := []LinkType{LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeNull, LinkTypeLoop, LinkTypeIPv4, LinkTypeIPv6}
	for _, e := range linkTypes {
		if !slices.Contains(lts, e.lt) {
			lts = append(lts, e.lt)
		}
	}
	pkt := make([]byte, 128)
	for i := range pkt {
		pkt[i] = byte(i * 7)
	}
	f.Fuzz(func(t *testing.T, expr string, lt uint8, live bool) {
		o := Options{LinkType: lts[int(lt)%len(lts)], Live: live, Resolver: res, Netmask: 0xffffff00}
		for _, noOpt := range []bool{true, false} {
			o.NoOptimize = noOpt
			prog, err := Compile(expr, o)
			if (err == nil) == (prog == nil) {
				t.Fatalf("Compile(%q): program %v with error %v", expr, prog != nil, err)
			}
			if err != nil {
				continue
			}
			if cerr := Check(prog); cerr != nil && !hasBackwardJump(prog) && !unknownPayloadLoad(o.LinkType, cerr) {
				t.Fatalf("Compile(%q, noopt=%v) fails the checker: %v", expr, noOpt, cerr)
			}
			vm, err := NewVM(prog)
			if err != nil {
				t.Fatalf("NewVM(%q): %v", expr, err)
			}
			for _, n := range []int{0, 14, 34, 54, 128} {
				vm.Run(pkt[:n], n, nil)
			}
		}
	})
}

// unknownPayloadLoad reports whether err is the checker's refusal of a
// load at an offset of the network layer on a link type where libpcap
// does not know that offset (some Juniper PICs): the offsets wrap around
// to the ancillary range, in libpcap's programs too.
func unknownPayloadLoad(lt LinkType, err error) bool {
	row, _ := linkLayerRow(lt)
	return row.payload == offsetNotSet && errors.Is(err, ErrUnknownAncillary)
}

func hasBackwardJump(prog []bpf.Instruction) bool {
	for _, ins := range prog {
		if j, ok := ins.(bpf.Jump); ok && int32(j.Skip) < 0 {
			return true
		}
	}
	return false
}

// BenchmarkCompile measures compiling typical capture filters with the
// optimizer, as the daemon does for every request.
func BenchmarkCompile(b *testing.B) {
	filters := []string{
		"tcp port 443 and host 198.18.0.7",
		"vlan 20 and (icmp or ip6[40] == 128)",
		"udp and (port 53 or port 123) and not net 10.0.0.0/8",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 198.18.0.0/15",
		"host 198.18.0.1 or 198.18.0.2 or 198.18.0.3",
	}
	for _, noOpt := range []bool{true, false} {
		name := "optimized"
		if noOpt {
			name = "unoptimized"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				for _, f := range filters {
					if _, err := Compile(f, Options{LinkType: LinkTypeEthernet, NoOptimize: noOpt}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
