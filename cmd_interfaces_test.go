package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runInterfacesCapture runs "pcapdaemon interfaces args..." and returns its
// exit status, stdout and stderr.
func runInterfacesCapture(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runInterfaces(args, &out, &errb)
	return code, out.String(), errb.String()
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

func TestInterfacesErrors(t *testing.T) {
	badAlias := writeConfig(t, "[[interface]]\nname = \"pcapd-no-such0\"\nalias = [\"x\"]\n")
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string // in stderr
	}{
		{"unknown flag", []string{"-bogus"}, 2, "flag provided but not defined"},
		{"argument", []string{"eth0"}, 2, `unexpected argument "eth0"`},
		{"missing config", []string{"-config", filepath.Join(t.TempDir(), "none.toml")}, 1, "none.toml"},
		{"alias on a missing interface", []string{"-config", badAlias}, 1, "pcapd-no-such0"},
		{"help", []string{"-h"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runInterfacesCapture(tt.args...)
			if code != tt.wantStatus {
				t.Errorf("status %d, want %d (stderr %q)", code, tt.wantStatus, errs)
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errs, tt.wantErr)
			}
			if code != 0 && out != "" {
				t.Errorf("failed run printed %q on stdout", out)
			}
		})
	}
}
