package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the repository's root: the nearest directory above
// the test's working directory (its package's) that holds go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}

// SeedConfig writes the seed README's example config
// (config/testdata/seed-README.md, its "## Config file" block), verbatim,
// to a temporary file and returns its path.
func SeedConfig(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ModuleRoot(t), "config", "testdata", "seed-README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(b, []byte("## Config file\n"))
	block, _, ok2 := bytes.Cut(rest, []byte("\n```"))
	if !ok || !ok2 {
		t.Fatal("the seed README has no closed \"## Config file\" block")
	}
	path := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	if err := os.WriteFile(path, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
