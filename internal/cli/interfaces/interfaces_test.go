package interfaces

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// runInterfacesCapture runs "pcapdaemon interfaces" as o says and returns
// its exit status, stdout and stderr.
func runInterfacesCapture(o Options) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(o, &out, &errb)
	return code, out.String(), errb.String()
}

// interfacesJSON runs "pcapdaemon interfaces -json [-config cfg]" and
// decodes the output, failing t unless it succeeds.
func interfacesJSON(t *testing.T, cfg string) map[string]Info {
	t.Helper()
	code, out, errs := runInterfacesCapture(Options{JSON: true, Config: cfg})
	if code != 0 {
		t.Fatalf("interfaces -json: status %d, stderr %q", code, errs)
	}
	var list []Info
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&list); err != nil {
		t.Fatalf("interfaces -json: %v\n%s", err, out)
	}
	m := map[string]Info{}
	for i, in := range list {
		if i > 0 && list[i-1].Index >= in.Index {
			t.Errorf("not in index order: %d after %d", in.Index, list[i-1].Index)
		}
		m[in.Name] = in
	}
	return m
}

// writeConfig writes a config file whose local directory is a temporary one
// (so that loading it creates nothing) plus extra, and returns its path.
func writeConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "pcapdaemon.toml")
	body := fmt.Sprintf("[general]\nlocaldir = %q\n\n%s", dir, extra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInterfacesLoopback(t *testing.T) {
	lo, ok := interfacesJSON(t, "")["lo"]
	if !ok {
		t.Fatal("lo not listed")
	}
	if lo.LinkType != "EN10MB" || lo.DLT != 1 || lo.ARPHRD != 772 || lo.ARPHRDName != "LOOPBACK" {
		t.Errorf("lo: linktype %s (%d), ARPHRD %s (%d), want EN10MB (1), LOOPBACK (772)", lo.LinkType, lo.DLT, lo.ARPHRDName, lo.ARPHRD)
	}
	if !slices.Contains(lo.Flags, "loopback") {
		t.Errorf("lo flags %v lack loopback", lo.Flags)
	}
	if slices.Contains(lo.Flags, "up") && !slices.Contains(lo.Addresses, "127.0.0.1/8") {
		t.Errorf("lo is up but its addresses %v lack 127.0.0.1/8", lo.Addresses)
	}
	if len(lo.Aliases) != 0 || lo.Error != "" {
		t.Errorf("lo: aliases %v, error %q, want none without a config", lo.Aliases, lo.Error)
	}

	code, out, errs := runInterfacesCapture(Options{})
	if code != 0 {
		t.Fatalf("interfaces: status %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"INDEX", "NAME", "LINKTYPE", "ARPHRD", "FLAGS", "ADDRESSES", "ALIASES", "LOOKBACK"}) {
		t.Errorf("header %q", lines[0])
	}
	found := false
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 8 && f[1] == "lo" {
			found = true
			if f[2] != "EN10MB" || f[3] != "LOOPBACK(772)" || f[6] != "-" || f[7] != "-" {
				t.Errorf("lo row %q", l)
			}
		}
	}
	if !found {
		t.Errorf("no lo row in\n%s", out)
	}
}

func TestInterfacesConfigAliases(t *testing.T) {
	cfg := writeConfig(t, "[[interface]]\nname = \"lo\"\nalias = [\"local\", \"loop\"]\n")
	lo := interfacesJSON(t, cfg)["lo"]
	if diff := cmp.Diff([]string{"local", "loop"}, lo.Aliases); diff != "" {
		t.Errorf("lo aliases (-want +got):\n%s", diff)
	}
	code, out, errs := runInterfacesCapture(Options{Config: cfg})
	if code != 0 {
		t.Fatalf("status %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, " local,loop  -\n") {
		t.Errorf("table lacks lo's aliases:\n%s", out)
	}
}

func TestInterfacesTable(t *testing.T) {
	list := []Info{
		{Index: 1, Name: "lo", LinkType: "EN10MB", DLT: 1, ARPHRD: 772, ARPHRDName: "LOOPBACK",
			Flags: []string{"up", "loopback"}, Addresses: []string{"127.0.0.1/8", "::1/128"}, Aliases: []string{"local"},
			Lookback: &Lookback{Bytes: 64 << 20, RingBytes: 94 << 20, HeldBytes: ptr(int64(63.5 * (1 << 20))), Seconds: ptr(12.3)}},
		{Index: 7, Name: "tun0", LinkType: "RAW", DLT: 101, ARPHRD: 65534, ARPHRDName: "NONE",
			Flags: []string{"up", "pointtopoint", "promisc"}, Addresses: []string{"198.18.0.1/32"}, Lookback: &Lookback{Bytes: 8 << 20}},
		{Index: 9, Name: "weird0", ARPHRD: -1, Error: "link type: no /sys"},
		{Index: 12, Name: "x0", LinkType: "LINUX_SLL", DLT: 113, ARPHRD: 999, ARPHRDName: "999"},
	}
	want := `INDEX  NAME    LINKTYPE   ARPHRD         FLAGS                    ADDRESSES            ALIASES  LOOKBACK
1      lo      EN10MB     LOOPBACK(772)  up,loopback              127.0.0.1/8,::1/128  local    64MiB(63.5MiB,12.3s)
7      tun0    RAW        NONE(65534)    up,pointtopoint,promisc  198.18.0.1/32        -        8MiB
9      weird0  ?          ?              -                        -                    -        -
12     x0      LINUX_SLL  999            -                        -                    -        -
weird0: link type: no /sys
`
	var b bytes.Buffer
	if err := WriteTable(&b, list); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestInterfaceNames(t *testing.T) {
	for _, tt := range []struct {
		dlt  uint32
		want string
	}{
		{afpacket.LinkTypeEthernet, "EN10MB"}, {afpacket.LinkTypeRaw, "RAW"},
		{afpacket.LinkTypeLinuxSLL, "LINUX_SLL"}, {afpacket.LinkTypeLinuxSLL2, "LINUX_SLL2"}, {147, "DLT147"},
	} {
		if got := linkTypeName(tt.dlt); got != tt.want {
			t.Errorf("linkTypeName(%d) = %q, want %q", tt.dlt, got, tt.want)
		}
	}
	for _, tt := range []struct {
		arphrd int
		want   string
	}{{1, "ETHER"}, {772, "LOOPBACK"}, {0xfffe, "NONE"}, {778, "IPGRE"}, {4242, "4242"}, {-1, ""}} {
		if got := arphrdName(tt.arphrd); got != tt.want {
			t.Errorf("arphrdName(%d) = %q, want %q", tt.arphrd, got, tt.want)
		}
	}
}

// TestInterfacesVeth lists a veth made for the test, with an alias from a
// config, and sees the promiscuous flag come and go with a capture handle's
// PACKET_MR_PROMISC membership.
func TestInterfacesVeth(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	cfg := writeConfig(t, fmt.Sprintf("[[interface]]\nname = %q\nalias = [\"uplink\"]\n", pair.Host))

	in, ok := interfacesJSON(t, cfg)[pair.Host]
	if !ok {
		t.Fatalf("%s not listed", pair.Host)
	}
	want := Info{
		Index: pair.HostIndex, Name: pair.Host, LinkType: "EN10MB", DLT: 1, ARPHRD: 1, ARPHRDName: "ETHER",
		MTU: in.MTU, MAC: pair.HostMAC.String(), Flags: []string{"up", "running"},
		Addresses: []string{pair.HostAddr.String() + "/30"}, Aliases: []string{"uplink"},
	}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("%s (-want +got):\n%s", pair.Host, diff)
	}

	h, err := afpacket.Open(pair.Host, afpacket.Config{Promiscuous: true, NumBlocks: 1, BlockSize: os.Getpagesize()})
	if err != nil {
		t.Fatal(err)
	}
	if got := interfacesJSON(t, "")[pair.Host].Flags; !slices.Contains(got, "promisc") {
		t.Errorf("flags %v while a promiscuous capture is open, want promisc", got)
	}
	h.Close()
	if got := interfacesJSON(t, "")[pair.Host].Flags; slices.Contains(got, "promisc") {
		t.Errorf("flags %v after the capture closed, want no promisc", got)
	}
}
