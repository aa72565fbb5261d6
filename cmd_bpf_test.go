package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
	"github.com/pcapdaemon/pcapdaemon/internal/conformance"
)

// runBPFCapture runs "pcapdaemon bpf args..." and returns its exit status,
// stdout and stderr.
func runBPFCapture(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runBPF(args, &out, &errb)
	return code, out.String(), errb.String()
}

// bpfCorpusEntry is the part of a conformance accept entry this test uses.
type bpfCorpusEntry struct {
	Label         string  `json:"label"`
	DLT           string  `json:"DLT"`
	Expr          string  `json:"expr"`
	Snaplen       int     `json:"snaplen"`
	LinuxExt      bool    `json:"linuxext"`
	ExpectedOpt   *string `json:"expected_opt"`
	ExpectedUnopt *string `json:"expected_unopt"`
}

// bpfCorpus returns the named accept entries of libpcap's filter tests
// (testdata/conformance), failing when the corpus is absent.
func bpfCorpus(t *testing.T, labels ...string) []bpfCorpusEntry {
	t.Helper()
	b, err := conformance.ReadTests()
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Accept []bpfCorpusEntry `json:"accept"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	byLabel := map[string]bpfCorpusEntry{}
	for _, a := range c.Accept {
		byLabel[a.Label] = a
	}
	var out []bpfCorpusEntry
	for _, l := range labels {
		a, ok := byLabel[l]
		if !ok {
			t.Fatalf("no corpus entry %s", l)
		}
		out = append(out, a)
	}
	return out
}

// TestBPFGolden compares the command's -d output with libpcap's expected
// programs (tcpdump -d and tcpdump -O -d), and checks that -dd and -ddd
// print the same program.
func TestBPFGolden(t *testing.T) {
	entries := bpfCorpus(t,
		"accept_port_0",                      // port 7
		"accept_greater_100_0",               // RAW, -s 200
		"accept_vlan_eth_unary_0",            // vlan 4095
		"accept_ip6_multicast_0",             // IPV6
		"accept_link_proto_ip6_LINUX_SLL_0",  // link proto \ip6
		"accept_rarp_host_addr_linux_sll2_0", // LINUX_SLL2
		"accept_tcp_portrange_6",             // tcp portrange 53-smtp (built-in services)
		"accept_udp_portrange_6",             // udp portrange 68-bootps
		"accept_ip_net_addr_4",               // ip net 192.168.0.0 mask 255.255.0.0
		"accept_ldh_jset_0xFFFFFFFF_0",       // link[0:2] & 0xFFFFFFFF == 0
	)
	for _, a := range entries {
		t.Run(a.Label, func(t *testing.T) {
			args := []string{"-y", strings.ToLower(a.DLT), "-s", strconv.Itoa(a.Snaplen), a.Expr}
			for _, v := range []struct {
				flags []string
				want  *string
			}{{nil, a.ExpectedOpt}, {[]string{"-O"}, a.ExpectedUnopt}} {
				code, out, errs := runBPFCapture(append(v.flags, args...)...)
				if code != 0 || errs != "" {
					t.Fatalf("%v: exit %d, stderr %q", v.flags, code, errs)
				}
				if out != *v.want {
					t.Errorf("%v -d:\n got:\n%s\nwant (libpcap):\n%s", v.flags, out, *v.want)
				}
			}
			checkFormatsAgree(t, args)
		})
	}
}

// checkFormatsAgree runs the command with -d, -dd and -ddd and checks that
// the three outputs are the same program.
func checkFormatsAgree(t *testing.T, args []string) {
	t.Helper()
	_, listing, _ := runBPFCapture(append([]string{"-d"}, args...)...)
	prog, err := bpftest.ParseListing(listing)
	if err != nil {
		t.Fatalf("-d output: %v", err)
	}
	for _, f := range []bpfcompile.DumpFormat{bpfcompile.DumpC, bpfcompile.DumpDecimal} {
		var want bytes.Buffer
		if err := bpfcompile.Dump(&want, prog, f); err != nil {
			t.Fatal(err)
		}
		code, got, errs := runBPFCapture(append([]string{f.String()}, args...)...)
		if code != 0 || got != want.String() {
			t.Errorf("%v: exit %d, stderr %q, output:\n%s\nwant:\n%s", f, code, errs, got, want.String())
		}
	}
}

// TestBPFInterface: -i compiles the live flavour for the interface's link
// type, as the daemon does: "vlan" on loopback (Ethernet) reads the
// kernel's VLAN metadata, exactly libpcap's linuxext program.
func TestBPFInterface(t *testing.T) {
	if _, err := os.Stat("/sys/class/net/lo"); err != nil {
		t.Skip("no loopback interface in /sys/class/net")
	}
	for _, a := range bpfCorpus(t, "accept_vlan_eth_linuxext_nullary_0", "accept_inbound_linuxext_0") {
		code, out, errs := runBPFCapture("-i", "lo", a.Expr)
		if code != 0 || out != *a.ExpectedOpt {
			t.Errorf("-i lo %q: exit %d, stderr %q, output:\n%s\nwant (libpcap -l):\n%s", a.Expr, code, errs, out, *a.ExpectedOpt)
		}
	}
	// Without -i, "inbound" is not available: a savefile has no direction.
	if code, _, errs := runBPFCapture("inbound"); code != 1 || errs == "" {
		t.Errorf("inbound without -i: exit %d, stderr %q; want 1 and an error", code, errs)
	}
	if code, _, errs := runBPFCapture("-i", "no-such-if0", "ip"); code != 1 || !strings.Contains(errs, "no-such-if0") {
		t.Errorf("-i no-such-if0: exit %d, stderr %q", code, errs)
	}
}

func TestBPFCommandLine(t *testing.T) {
	position := regexp.MustCompile(`^pcapdaemon bpf: 1:\d+: \S.*\n$`)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   string         // exact, when not empty
		stderr   *regexp.Regexp // when not nil
	}{
		{"args joined by spaces", []string{"-y", "raw", "greater", "100"}, 0,
			"(000) ld       #pktlen\n(001) jge      #0x64            jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n", nil},
		{"-s 0 is 262144", []string{"-s", "0", "-y", "RAW", "greater 100"}, 0,
			"(000) ld       #pktlen\n(001) jge      #0x64            jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n", nil},
		{"-s", []string{"-s", "96", "-y", "DLT_RAW", "greater 100"}, 0,
			"(000) ld       #pktlen\n(001) jge      #0x64            jt 2\tjf 3\n(002) ret      #96\n(003) ret      #0\n", nil},
		{"-ddd", []string{"-ddd", "-y", "RAW", "greater 100"}, 0, "4\n128 0 0 0\n53 0 1 100\n6 0 0 262144\n6 0 0 0\n", nil},
		{"-dd", []string{"-dd", "-y", "RAW", "greater 100"}, 0,
			"{ 0x80, 0, 0, 0x00000000 },\n{ 0x35, 0, 1, 0x00000064 },\n{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n", nil},
		{"ip broadcast with netmask 0", []string{"ip broadcast"}, 0, "", nil},
		{"netmask prefix", []string{"-m", "24", "ip broadcast"}, 0, "", nil},
		{"empty expression accepts all", nil, 0, "(000) ret      #262144\n", nil},
		{"bad port", []string{"tcp", "port", "99999"}, 1, "", position},
		{"syntax error", []string{"tcp and"}, 1, "", position},
		{"unknown DLT", []string{"-y", "FDDI0", "ip"}, 2, "", regexp.MustCompile(`unknown data link type`)},
		{"-y of a link type without a protocol field", []string{"-y", "docsis", "ip"}, 1, "", regexp.MustCompile(`^pcapdaemon bpf: 1:1: link-layer type filtering not implemented for DLT_DOCSIS\n$`)},
		{"-y of an 802.11 link type", []string{"-y", "ieee802_11", "wlan", "type", "data"}, 0,
			"(000) ldb      [0]\n(001) and      #0xc\n(002) jeq      #0x8             jt 3\tjf 4\n(003) ret      #262144\n(004) ret      #0\n", nil},
		{"-i and -y", []string{"-i", "lo", "-y", "RAW", "ip"}, 2, "", regexp.MustCompile(`exclude`)},
		{"negative snaplen", []string{"-s", "-1", "ip"}, 2, "", regexp.MustCompile(`snapshot length`)},
		{"bad netmask", []string{"-m", "255.0.255.300", "ip"}, 2, "", regexp.MustCompile(`invalid netmask`)},
		{"unknown flag", []string{"-Z", "ip"}, 2, "", regexp.MustCompile(`flag provided but not defined`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runBPFCapture(tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.wantCode, errs)
			}
			if tt.stdout != "" && out != tt.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.stdout)
			}
			if tt.stderr != nil && !tt.stderr.MatchString(errs) {
				t.Errorf("stderr %q does not match %v", errs, tt.stderr)
			}
			if code == 1 && strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr has %d lines, want one: %q", strings.Count(errs, "\n"), errs)
			}
			if code == 0 && (errs != "" || out == "") {
				t.Errorf("exit 0 with stderr %q and stdout %q", errs, out)
			}
		})
	}
	// The netmask changes "ip broadcast".
	_, zero, _ := runBPFCapture("ip broadcast")
	_, m24, _ := runBPFCapture("-m", "255.255.255.0", "ip broadcast")
	if zero == m24 {
		t.Errorf("-m 255.255.255.0 does not change \"ip broadcast\":\n%s", zero)
	}
}
