package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// build is the binary under test, built at most once per run into dir.
var build struct {
	dir  string // made by TestMain, removed when the run ends
	once sync.Once
	path string
	err  error
}

// TestMain runs the tests in the module's root directory and removes the
// binary afterwards.
func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if err := chdirModuleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "pcapdaemon-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	build.dir = dir
	return m.Run()
}

// chdirModuleRoot changes to the nearest directory above that holds go.mod.
func chdirModuleRoot() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return os.Chdir(dir)
		}
		up := filepath.Dir(dir)
		if up == dir {
			return fmt.Errorf("no go.mod above %s", dir)
		}
		dir = up
	}
}

// daemonBinary builds pcapdaemon once per test run (CGO_ENABLED=0, as
// shipped) and returns its path.
func daemonBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.path = filepath.Join(build.dir, "pcapdaemon")
		cmd := exec.Command("go", "build", "-o", build.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}
