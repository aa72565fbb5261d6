package tmpfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// setUmask sets the process's umask for the test and restores it after.
// The umask is process-wide: no test of this package runs in parallel.
func setUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func TestCreateHonoursUmask(t *testing.T) {
	tests := []struct {
		perm  fs.FileMode
		umask int
		want  fs.FileMode
	}{
		{0o640, 0o022, 0o640},
		{0o640, 0o077, 0o600},
		{0o640, 0o027, 0o640},
		{0o640, 0o000, 0o640},
		{0o666, 0o022, 0o644},
		{0o666, 0o077, 0o600},
		{0o666, 0o027, 0o640},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%03o-umask-%03o", tt.perm, tt.umask), func(t *testing.T) {
			dir := t.TempDir()
			setUmask(t, tt.umask)
			f, err := Create(dir, ".x.pcap.tmp-*", tt.perm)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("mode %v with umask %03o, want %v", got, tt.umask, tt.want)
			}
		})
	}
}

func TestCreateNames(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for range 50 {
		f, err := Create(dir, ".cap.pcap.tmp-*", 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		name := filepath.Base(f.Name())
		if filepath.Dir(f.Name()) != dir || !strings.HasPrefix(name, ".cap.pcap.tmp-") || len(name) == len(".cap.pcap.tmp-") {
			t.Fatalf("name %q, want %s/.cap.pcap.tmp-<random>", f.Name(), dir)
		}
		if seen[name] {
			t.Fatalf("name %q handed out twice", name)
		}
		seen[name] = true
	}
	if f, err := Create(dir, "pre*.suf", 0o600); err != nil || !strings.HasSuffix(f.Name(), ".suf") {
		t.Errorf("Create with a suffix = %v, %v", f, err)
	} else {
		f.Close()
	}
	if _, err := Create(dir, "a/b*", 0o600); !errors.Is(err, ErrPattern) {
		t.Errorf("pattern with a separator: %v, want ErrPattern", err)
	}
	if _, err := Create(filepath.Join(dir, "missing"), "x*", 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Create made the missing directory")
	}
}
