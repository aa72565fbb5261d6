package e2e

import (
	"debug/elf"
	"os/exec"
	"strings"
	"testing"
)

// TestStaticBinary fails if the daemon stops being one static, cgo-free
// binary: it must run in a distroless image with no libc and no libpcap.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	f, err := elf.Open(daemonBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has program header %v: it is dynamically linked", p.Type)
		}
	}

	list := exec.Command("go", "list", "-deps", ".")
	list.Env = append(list.Environ(), "CGO_ENABLED=0")
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "runtime/cgo", pkg == "github.com/google/gopacket/pcap",
			strings.HasPrefix(pkg, "github.com/google/gopacket/afpacket"),
			// The browser the status page's tests drive is for tests only.
			strings.HasPrefix(pkg, "github.com/chromedp/"),
			pkg == "github.com/pcapdaemon/pcapdaemon/internal/browsertest":
			t.Errorf("unwanted package linked in: %s", pkg)
		}
	}
}
