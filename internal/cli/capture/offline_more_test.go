package capture

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/savefile"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// nullFile is tcpdump's DLT_NULL capture: 121 packets, the first two UDP
// to and from port 53 at 01:16:43.306396 and .306644 (UTC), 248 µs apart.
func nullFile(t *testing.T) string {
	return filepath.Join(testenv.ModuleRoot(t), "testdata/conformance/packets/tcpdump-NULL.pcap")
}

// TestOfflineLines: -r prints tcpdump's "reading from file" line and one
// line per packet that passes, in the -t format asked for; -c stops it.
func TestOfflineLines(t *testing.T) {
	t.Setenv("TZ", "UTC")
	f := nullFile(t)
	first := "IP 127.0.0.1.54954 > 127.0.0.1.53: 63147+ [1au] SOA? . (40)" // tcpdump -nn's DNS line
	tests := []struct {
		name string
		args []string
		want []string // regexps of the stdout lines
	}{
		{"default time", []string{"-c", "2", "udp"}, []string{`^01:16:43\.306396 ` + regexp.QuoteMeta(first) + `$`, `^01:16:43\.306644 IP `}},
		{"-t", []string{"-t", "-c", "1", "udp"}, []string{`^` + regexp.QuoteMeta(first) + `$`}},
		{"-tt", []string{"-tt", "-c", "1", "udp"}, []string{`^1550020603\.306396 IP `}},
		{"-ttt", []string{"-ttt", "-c", "2", "udp"}, []string{`^ 00:00:00\.000000 IP `, `^ 00:00:00\.000248 IP `}},
		{"-tttt", []string{"-tttt", "-c", "1", "udp"}, []string{`^2019-02-13 01:16:43\.306396 IP `}},
		{"-ttttt", []string{"-c", "2", "-ttttt", "udp"}, []string{`^ 00:00:00\.000000 IP `, `^ 00:00:00\.000248 IP `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, out, stderr := runOffline(t, nil, append([]string{"-r", f}, tt.args...)...)
			if st != 0 {
				t.Fatalf("status %d: %s", st, stderr)
			}
			if want := "reading from file " + f + ", link-type NULL (BSD loopback), snapshot length 262144\n"; stderr != want {
				t.Errorf("stderr %q, want %q", stderr, want)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d lines, want %d: %q", len(lines), len(tt.want), lines)
			}
			for i, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(lines[i]) {
					t.Errorf("line %d %q, want %s", i, lines[i], re)
				}
			}
		})
	}
}

// TestOfflineFilterFileAndLimits: -F reads the expression (tcpdump's '#'
// comments), ignores the command line's with a warning, and -c, --bytes
// and stdin work as for a capture.
func TestOfflineFilterFileAndLimits(t *testing.T) {
	f := nullFile(t)
	dir := t.TempDir()
	ff := filepath.Join(dir, "filter")
	if err := os.WriteFile(ff, []byte("# DNS only\nudp port 53 # and nothing else\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func(out []byte) int { return len(readRecords(t, out)) }
	_, all, _ := runOffline(t, nil, "-r", f, "-w", "-", "udp port 53")
	if count(all) < 3 {
		t.Fatalf("%d DNS packets in %s, want several", count(all), f)
	}
	st, out, stderr := runOffline(t, nil, "-r", f, "-F", ff, "-w", "-", "tcp")
	if st != 0 || !bytes.Equal(out, all) {
		t.Errorf("-F: status %d, %d packets, want the %d of \"udp port 53\": %s", st, count(out), count(all), stderr)
	}
	if !strings.Contains(stderr, "the expression on the command line (tcp) is ignored, as tcpdump does") {
		t.Errorf("stderr %q: no warning about the ignored expression", stderr)
	}
	if _, out, _ := runOffline(t, nil, "-r", f, "-c", "2", "-w", "-", "udp port 53"); count(out) != 2 {
		t.Errorf("-c 2: %d packets", count(out))
	}
	// --bytes: the record that crosses the limit is kept, as in a capture.
	if _, out, _ := runOffline(t, nil, "-r", f, "--bytes", "25", "-w", "-", "udp port 53"); count(out) != 1 {
		t.Errorf("--bytes 25: %d packets, want 1", count(out))
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	st, out, stderr = runOffline(t, bytes.NewReader(b), "-r", "-", "-w", "-", "udp port 53")
	if st != 0 || !bytes.Equal(out, all) || !strings.HasPrefix(stderr, "reading from file -, link-type NULL") {
		t.Errorf("-r -: status %d, %d packets, stderr %q", st, count(out), stderr)
	}
	st, _, stderr = runOffline(t, nil, "-r", f, "udp and port")
	if st != 1 || !strings.Contains(stderr, `pcapdaemon capture: filter "udp and port": 1:13: `) {
		t.Errorf("bad filter: status %d, stderr %q", st, stderr)
	}
	st, _, stderr = runOffline(t, strings.NewReader("not a capture file at all"), "-r", "-")
	if st != 1 || !strings.Contains(stderr, "pcapdaemon capture: -: unknown file format") {
		t.Errorf("not a capture: status %d, stderr %q", st, stderr)
	}
}

// TestOfflinePcapngLinkTypes: a pcapng file with interfaces of two link
// types is filtered per interface (the same expression compiled for each)
// and written as pcapng with both; as pcap it is refused, naming
// --format pcapng.
func TestOfflinePcapngLinkTypes(t *testing.T) {
	var in bytes.Buffer
	w, err := savefile.NewPcapngWriter(&in)
	if err != nil {
		t.Fatal(err)
	}
	eth, _ := w.AddInterface(savefile.Interface{LinkType: uint32(bpfcompile.LinkTypeEthernet), Snaplen: 1000, Name: "eth0"})
	raw, _ := w.AddInterface(savefile.Interface{LinkType: uint32(bpfcompile.LinkTypeRaw), Snaplen: 1000, Name: "tun0"})
	udp := func(sport byte) []byte { // IPv4/UDP 198.18.0.1 -> 198.18.0.2
		b := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2, 0, sport, 0, 9, 0, 8, 0, 0}
		return b
	}
	ethHdr := append(bytes.Repeat([]byte{2}, 12), 0x08, 0x00)
	frames := []struct {
		id   int
		data []byte
	}{
		{eth, append(bytes.Clone(ethHdr), udp(1)...)},
		{raw, udp(2)},
		{eth, append(append(bytes.Clone(ethHdr[:12]), 0x86, 0xdd), make([]byte, 40)...)}, // IPv6: not udp
		{raw, udp(3)},
	}
	for i, f := range frames {
		if err := w.WritePacket(f.id, int64(i+1)*1e9, f.data, len(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(t.TempDir(), "in.pcapng")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.pcapng")
	st, _, stderr := runOffline(t, nil, "-r", file, "--format", "pcapng", "-w", out, "udp")
	if st != 0 {
		t.Fatalf("status %d: %s", st, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := savefile.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	var sports []byte
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		got = append(got, p.Timestamp/1e9)
		sports = append(sports, p.Data[len(p.Data)-7])
	}
	if diff := cmp.Diff([]int64{1, 2, 4}, got); diff != "" {
		t.Errorf("seconds of the packets kept (-want +got):\n%s", diff)
	}
	if !bytes.Equal(sports, []byte{1, 2, 3}) {
		t.Errorf("source ports %v, want 1 2 3", sports)
	}
	if ifs := rd.Interfaces(); len(ifs) != 2 || ifs[0].Name != "eth0" || ifs[1].LinkType != uint32(bpfcompile.LinkTypeRaw) {
		t.Errorf("interfaces %+v, want eth0 (EN10MB) and tun0 (RAW)", ifs)
	}
	st, _, stderr = runOffline(t, nil, "-r", file, "-w", filepath.Join(t.TempDir(), "x.pcap"), "udp")
	if st != 1 || !strings.Contains(stderr, "write pcapng (--format pcapng)") {
		t.Errorf("as pcap: status %d, stderr %q", st, stderr)
	}
}

// TestFilterErrorDirection: with -Q the filter is "(EXPR) and inbound";
// a compile error still names the user's expression and the position in
// it, and one of the direction test names -Q.
func TestFilterErrorDirection(t *testing.T) {
	r := &run{o: &Options{Direction: "in"}}
	expr := "ether host 1:2:3:4:5:6"
	filter, prefix := withDirection(expr, "in")
	if filter != "("+expr+") and inbound" || prefix != 1 {
		t.Fatalf("withDirection = %q, %d", filter, prefix)
	}
	_, err := bpfcompile.Compile(filter, bpfcompile.Options{LinkType: bpfcompile.LinkTypeRaw, Live: true})
	if err == nil {
		t.Fatal("ether host compiled for RAW")
	}
	got := r.filterError(err, expr, prefix).Error()
	if !strings.HasPrefix(got, `filter "ether host 1:2:3:4:5:6": 1:12: `) { // the address
		t.Errorf("error %q, want it at 1:12 of the expression", got)
	}
	if f, p := withDirection("", "out"); f != "outbound" || p != 0 {
		t.Errorf("withDirection(\"\", out) = %q, %d", f, p)
	}
	if f, p := withDirection("udp", "inout"); f != "udp" || p != 0 {
		t.Errorf("withDirection(udp, inout) = %q, %d", f, p)
	}
}
