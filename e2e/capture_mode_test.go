package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestCaptureFileModeUmask: "capture -w FILE" creates FILE as tcpdump
// does, 0666 masked by the umask it runs under (set by a shell before it
// execs the binary).
func TestCaptureFileModeUmask(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	for _, tt := range []struct {
		umask string
		want  fs.FileMode
	}{
		{"022", 0o644},
		{"077", 0o600},
		{"027", 0o640},
		{"002", 0o664},
	} {
		t.Run("umask-"+tt.umask, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "f.pcap")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// --duration ends the capture 0.2 s after the socket is armed; the file
			// then holds the header and whatever frames came (none).
			cmd := exec.CommandContext(ctx, "sh", "-c", fmt.Sprintf(`umask %s && exec "$0" "$@"`, tt.umask),
				daemonBinary(t), "capture", "-i", pair.Host, "--duration", "0.2", "-w", file, "udp port 9")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("capture: %v\n%s", err, out)
			}
			fi, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("mode %v under umask %s, want %v", got, tt.umask, tt.want)
			}
			if names := testenv.ReadDirNames(filepath.Dir(file)); len(names) != 1 {
				t.Errorf("directory holds %v, want only the file", names)
			}
		})
	}
}
