package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
)

// TestLocalDirRun: the retention loop prunes the local directory when it
// starts (a directory over its bounds after a restart with new ones) and
// as soon as a reload puts a sink with other bounds in use.
func TestLocalDirRun(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("h-eth0-%d-r%d.pcap", 1700000000+i, i))
		os.WriteFile(p, []byte("pcap"), 0o600)
		mod := time.Unix(1700000000+int64(i), 0)
		os.Chtimes(p, mod, mod)
	}
	log := slog.New(slog.DiscardHandler)
	sink := func(maxFiles int) *local.Sink {
		s, err := local.New(dir, log, local.WithRetention(local.Retention{MaxFiles: maxFiles}))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	l := newLocalDir(log)
	l.cur.Store(sink(3))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	if !testenv.WaitFor(5*time.Second, func() bool { return len(testenv.ReadDirNames(dir)) == 3 }) {
		t.Fatalf("at start: %v, want 3 files", testenv.ReadDirNames(dir))
	}
	l.set(sink(1))
	if !testenv.WaitFor(5*time.Second, func() bool { return len(testenv.ReadDirNames(dir)) == 1 }) {
		t.Fatalf("after the reload: %v, want 1 file", testenv.ReadDirNames(dir))
	}
	if got := testenv.ReadDirNames(dir); got[0] != filepath.Join(dir, "h-eth0-1700000004-r4.pcap") {
		t.Errorf("kept %v, want the newest", got)
	}
}

func TestIndexDir(t *testing.T) {
	for _, tt := range []struct {
		name string
		g    config.General
		want string
	}{
		{"spool first", config.General{SpoolDir: "/s", WriteLocal: true, LocalDir: "/l"}, "/s/index"},
		{"local", config.General{WriteLocal: true, LocalDir: "/l"}, "/l/.pcapdaemon-index"},
		{"neither", config.General{LocalDir: "/l"}, ""},
	} {
		if got := indexDir(tt.g); got != tt.want {
			t.Errorf("%s: indexDir = %q, want %q", tt.name, got, tt.want)
		}
	}
}
