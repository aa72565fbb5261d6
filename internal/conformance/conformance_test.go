package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCorpusComplete reads the corpus the way the tests do and checks it
// is all there: the counts of libpcap's suite (testdata/README.md), and
// every savefile, capture and fixture the entries need.
func TestCorpusComplete(t *testing.T) {
	b, err := ReadTests()
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Accept []json.RawMessage `json:"accept"`
		Apply  []struct {
			Label    string `json:"label"`
			Savefile string `json:"savefile"`
		} `json:"apply"`
		Reject []struct {
			Label    string  `json:"label"`
			Savefile *string `json:"savefile"`
		} `json:"reject"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", TestsFile, err)
	}
	for _, n := range []struct {
		what      string
		got, want int
	}{
		{"accept", len(c.Accept), 2230},
		{"apply", len(c.Apply), 185},
		{"reject", len(c.Reject), 16077},
	} {
		if n.got != n.want {
			t.Errorf("%s entries: %d, want %d", n.what, n.got, n.want)
		}
	}

	need := map[string]string{} // path under Dir -> an entry that needs it
	for _, a := range c.Apply {
		need[filepath.Join("savefiles", a.Savefile)] = a.Label
	}
	for _, r := range c.Reject {
		if r.Savefile != nil {
			need[filepath.Join("savefiles", *r.Savefile)] = r.Label
		}
	}
	for _, f := range []string{"hosts", "ethers", "networks", "services", "protocols"} {
		need[filepath.Join("fixtures", f)] = "the name resolver"
	}
	for _, dlt := range []string{"EN10MB", "LINUX_SLL", "NULL", "IPV6", "RAW", "IPV4"} {
		need[filepath.Join("packets", "tcpdump-"+dlt+".pcap")] = "the differential runs"
	}
	for p, who := range need {
		if _, err := Path(p); err != nil {
			t.Errorf("%s (needed by %s): %v", p, who, err)
		}
	}
}

// TestModuleRoot checks that the root found from this package's directory
// is the repository's: its go.mod names the module.
func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(mod, []byte("module github.com/pcapdaemon/pcapdaemon\n")) {
		t.Errorf("ModuleRoot() = %s, whose go.mod is not pcapdaemon's", root)
	}
	if want, _ := filepath.Abs(filepath.Join("..", "..")); root != want {
		t.Errorf("ModuleRoot() = %s, want %s", root, want)
	}
}

// TestErrors checks the errors a caller may branch on: a missing file and
// a working directory outside any module.
func TestErrors(t *testing.T) {
	if _, err := Path("nosuch.pcap"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Path(nosuch.pcap) = %v, want fs.ErrNotExist", err)
	}
	t.Chdir(t.TempDir())
	if _, err := ModuleRoot(); !errors.Is(err, ErrNoModuleRoot) {
		t.Errorf("ModuleRoot() outside a module = %v, want ErrNoModuleRoot", err)
	}
	if _, err := ReadTests(); !errors.Is(err, ErrNoModuleRoot) {
		t.Errorf("ReadTests() outside a module = %v, want ErrNoModuleRoot", err)
	}
}
