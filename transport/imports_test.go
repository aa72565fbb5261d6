package transport

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTransportAndSinkApart enforces the design's rule that transport and
// sink never import each other, directly or through another package (the
// SQS transport once paced its receive loop with sink/retry; shared code
// lives under internal/).
func TestTransportAndSinkApart(t *testing.T) {
	const mod = "github.com/pcapdaemon/pcapdaemon/"
	list := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...", "../sink/...")
	list.Env = append(list.Environ(), "CGO_ENABLED=0")
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	under := func(pkg, tree string) bool { return pkg == mod+tree || strings.HasPrefix(pkg, mod+tree+"/") }
	checked := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg, deps := f[0], f[1:]
		var other string
		switch {
		case under(pkg, "transport"):
			other = "sink"
		case under(pkg, "sink"):
			other = "transport"
		default:
			t.Fatalf("go list named %s", pkg)
		}
		checked++
		for _, d := range deps {
			if under(d, other) {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d packages listed:\n%s", checked, out)
	}
}
