package sinktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PcapFlow is how tcpdump -nn prints the packets of Pcap's flow.
const PcapFlow = "198.18.0.1.40000 > 198.18.0.2.9: UDP"

// TcpdumpPackets writes b to a file, reads it with tcpdump -r and returns
// how many packets of Pcap's flow tcpdump printed. It fails the test when
// tcpdump cannot read the file, and skips it when tcpdump is not installed.
func TcpdumpPackets(t testing.TB, b []byte) int {
	t.Helper()
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed")
	}
	f := filepath.Join(t.TempDir(), "read.pcap")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "-nn", "-r", f).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%.500s", err, out)
	}
	return strings.Count(string(out), PcapFlow)
}
