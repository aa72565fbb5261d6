package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCheckBinary runs the built binary's "check" sub-command.
func TestCheckBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	cmd := exec.Command(daemonBinary(t), "check", "-cstoken", "flag-secret")
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("pcapdaemon check: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "cloudshark.token = \"REDACTED\"\n") || strings.Contains(out.String()+errb.String(), "flag-secret") {
		t.Errorf("stdout:\n%s\nwant the flag's token masked", out.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("check wrote into its working directory: %v", ents)
	}
}
