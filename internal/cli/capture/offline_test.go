package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pcapdaemon/pcapdaemon/internal/savefile"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// record is a packet as -r parity compares it: microseconds (what
// tcpdump -w keeps of a savefile), bytes and length on the wire.
type record struct {
	US   int64
	Data string
	Len  int
}

func readRecords(t *testing.T, b []byte) []record {
	t.Helper()
	rd, err := savefile.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("reading the output: %v", err)
	}
	var out []record
	for {
		p, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading the output: %v", err)
		}
		out = append(out, record{p.Timestamp / 1e3, string(p.Data), p.Length})
	}
}

// runOffline runs "capture -r file ... expr" in process; it returns the
// exit status, stdout and stderr.
func runOffline(t *testing.T, stdin io.Reader, args ...string) (int, []byte, string) {
	t.Helper()
	o, err := ParseArgs(args)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", args, err)
	}
	var stdout, stderr bytes.Buffer
	st := Run(context.Background(), o, stdin, &stdout, &stderr)
	return st, stdout.Bytes(), stderr.String()
}

// parityExpressions are filters over what tcpdump's captures hold; one
// that does not apply to a link type must fail for both.
var parityExpressions = []string{
	"", "ip", "ip6", "udp", "tcp", "icmp or icmp6", "arp", "not ip and not ip6",
	"udp port 53", "tcp port 80 or tcp port 443", "host 127.0.0.1", "net 10.0.0.0/8",
	"greater 200", "len < 100", "ip[9] = 17", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
	"vlan", "ether broadcast", "ip and ip[8] < 64", "ip6 and tcp", "portrange 1-1023",
}

// libpcapMasterOnly are the captures of link types whose filters changed in
// libpcap after 1.10 (Debian's tcpdump links 1.10.3), where the compiler
// follows libpcap master, as its conformance test checks.
var libpcapMasterOnly = map[string]string{
	"arcnet-rfc1051-arp-icmp-http.pcap":     "RFC 1051 ARCNET offsets (master: \"ip\" and \"arp\" match none of its packets)",
	"brcm-tag.pcap":                         "DSA_TAG_BRCM filtering (1.10: not implemented)",
	"brcm-tag-stp.pcap":                     "DSA_TAG_BRCM filtering (1.10: not implemented)",
	"dsa.pcap":                              "DSA_TAG_DSA filtering (1.10: not implemented)",
	"mstp_20140225214217.pcap":              "BACNET_MS_TP (master: link-layer type filtering not implemented)",
	"linktype-reserved-field-not-zero.pcap": "refused by libpcap master (reserved field), read by 1.10 as link type 3145728",
}

// TestOfflineParity: "capture -r FILE -w - EXPR" selects the packets
// "tcpdump -r FILE -w - EXPR" does, with the same bytes, lengths and
// timestamps, on tcpdump's and libpcap's own captures; where tcpdump
// cannot compile an expression for a file's link type, neither can we.
func TestOfflineParity(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	root := testenv.ModuleRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "testdata/conformance/packets/*.pcap"))
	more, _ := filepath.Glob(filepath.Join(root, "testdata/conformance/savefiles/*.pcap*"))
	files = append(files, more...)
	compared, packets, bothRefused := 0, 0, 0
	for _, f := range files {
		if why, ok := libpcapMasterOnly[filepath.Base(f)]; ok {
			t.Logf("%s: not compared: %s", filepath.Base(f), why)
			continue
		}
		for _, expr := range parityExpressions {
			var tdOut, tdErr bytes.Buffer
			cmd := exec.Command("tcpdump", "-r", f, "-w", "-", expr)
			cmd.Stdout, cmd.Stderr = &tdOut, &tdErr
			tdFailed := cmd.Run() != nil
			st, out, stderr := runOffline(t, nil, "-r", f, "-w", "-", expr)
			name := fmt.Sprintf("%s %q", filepath.Base(f), expr)
			switch {
			case tdFailed && st != 0:
				bothRefused++
				continue
			case tdFailed && tdOut.Len() == 0:
				t.Errorf("%s: tcpdump failed (%s) and we did not (status %d)", name, strings.TrimSpace(tdErr.String()), st)
				continue
			case st != 0 && !tdFailed:
				t.Errorf("%s: status %d, tcpdump succeeded: %s", name, st, stderr)
				continue
			}
			want, got := readRecords(t, tdOut.Bytes()), readRecords(t, out)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: %d packets, tcpdump %d (-tcpdump +ours):\n%.2000s", name, len(got), len(want), diff)
			}
			compared++
			packets += len(want)
		}
	}
	t.Logf("%d file/expression pairs compared (%d packets selected by tcpdump), %d refused by both", compared, packets, bothRefused)
	if compared < 500 {
		t.Errorf("only %d pairs compared", compared)
	}
}
