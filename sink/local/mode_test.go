package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// TestDeliverModeUmask: a delivered file is FileMode (0640) masked by the
// process's umask, as systemd's UMask=0077 in docs/deploy.md expects. The
// umask is process-wide, so no test of this package runs in parallel.
func TestDeliverModeUmask(t *testing.T) {
	for _, tt := range []struct {
		umask int
		want  fs.FileMode
	}{
		{0o022, 0o640},
		{0o077, 0o600},
		{0o027, 0o640},
		{0o037, 0o640},
		{0o067, 0o600},
	} {
		t.Run(fmt.Sprintf("umask-%03o", tt.umask), func(t *testing.T) {
			dir := t.TempDir()
			s, err := New(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			old := syscall.Umask(tt.umask)
			path, err := s.Deliver(context.Background(), capture("h-eth0-1-m.pcap", []byte("data")))
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("mode %v under umask %03o, want %v", got, tt.umask, tt.want)
			}
		})
	}
}
