package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// base is the time the retention tests run at.
var base = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// writeCaptures creates n capture files of size bytes in dir, the i-th
// modified i minutes after base-n minutes (the last is the newest), and
// returns their names oldest first.
func writeCaptures(t *testing.T, dir string, n, size int) []string {
	t.Helper()
	var names []string
	for i := range n {
		name := fmt.Sprintf("host-eth0-%d-req%03d.pcap", base.Unix()+int64(i), i)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, size), 0o600); err != nil {
			t.Fatal(err)
		}
		mod := base.Add(time.Duration(i-n) * time.Minute)
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// others creates files in dir that are not the sink's captures, and
// returns their names.
func others(t *testing.T, dir string) []string {
	t.Helper()
	old := base.Add(-1000 * time.Hour)
	names := []string{
		"README.txt",
		".host-eth0-1-x.pcap.tmp-abc",  // a delivery under way
		"host-eth0-1700000000-sp.pcap", // a spooled capture (with its description)
		"host-eth0-1700000000-sp.pcap.json",
		"capture.pcap", // not the sink's name pattern
		"host-eth0-notanumber-x.pcap",
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	if err := os.Mkdir(filepath.Join(dir, "host-eth0-1-sub.pcap"), 0o700); err != nil {
		t.Fatal(err)
	}
	return append(names, "host-eth0-1-sub.pcap")
}

// TestRetention runs each bound against a real directory of 200 capture
// files of 1000 bytes, modified a minute apart (the newest a minute old),
// among files that are not captures: the oldest captures beyond the bound
// go, each logged and reported with its reason; nothing else is touched.
func TestRetention(t *testing.T) {
	const n, size = 200, 1000
	tests := []struct {
		name   string
		ret    Retention
		keep   int // newest captures left
		reason string
	}{
		{"no bound", Retention{}, 200, ""},
		{"bounds above what there is", Retention{MaxFiles: 200, MaxBytes: 200000, MaxAge: 1000 * time.Minute}, 200, ""},
		{"files", Retention{MaxFiles: 70}, 70, ReasonFiles},
		{"bytes", Retention{MaxBytes: 55500}, 55, ReasonBytes},
		{"bytes exactly", Retention{MaxBytes: 55000}, 55, ReasonBytes},
		{"age", Retention{MaxAge: 100*time.Minute + 30*time.Second}, 100, ReasonAge},
		{"the tightest bound wins", Retention{MaxFiles: 120, MaxBytes: 1000000, MaxAge: 30*time.Minute + time.Second}, 30, ReasonAge},
		{"every file too old", Retention{MaxAge: time.Second}, 0, ReasonAge},
		{"bytes below one file: the newest stays", Retention{MaxBytes: 10}, 1, ReasonBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			names := writeCaptures(t, dir, n, size)
			foreign := others(t, dir)
			logs := new(testenv.SyncBuffer)
			var mu sync.Mutex
			var reported []Removal
			s, err := New(dir, slog.New(slog.NewTextHandler(logs, nil)), WithRetention(tt.ret),
				WithClock(func() time.Time { return base }),
				OnRemoved(func(r Removal) { mu.Lock(); reported = append(reported, r); mu.Unlock() }))
			if err != nil {
				t.Fatal(err)
			}
			left, removed, err := s.Prune()
			if err != nil {
				t.Fatal(err)
			}
			if left.Files != tt.keep || left.Bytes != int64(tt.keep*size) {
				t.Errorf("left %+v, want %d files of %d bytes", left, tt.keep, size)
			}
			gone := names[:n-tt.keep]
			if len(removed) != len(gone) || len(reported) != len(gone) {
				t.Fatalf("removed %d, reported %d; want %d", len(removed), len(reported), len(gone))
			}
			for i, r := range removed {
				if r.Path != filepath.Join(dir, gone[i]) || r.Reason != tt.reason || r.Size != size || r != reported[i] {
					t.Errorf("removal %d: %+v (reported %+v), want %s for %s", i, r, reported[i], gone[i], tt.reason)
				}
				if !strings.Contains(logs.String(), "path="+r.Path) {
					t.Errorf("removal of %s not logged", r.Path)
				}
			}
			for i, name := range names {
				_, err := os.Stat(filepath.Join(dir, name))
				if want := i >= n-tt.keep; (err == nil) != want {
					t.Errorf("%s: present %v, want %v", name, err == nil, want)
				}
			}
			for _, name := range foreign {
				if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
					t.Errorf("%s, not a capture of the sink, was touched: %v", name, err)
				}
			}
			if u, err := s.Usage(); err != nil || u != left {
				t.Errorf("Usage = %+v, %v; want %+v", u, err, left)
			}
		})
	}
}

// TestRetentionAfterDelivery: each delivery prunes, so the directory never
// holds more than the bound, and the capture just delivered stays.
func TestRetentionAfterDelivery(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil, WithRetention(Retention{MaxFiles: 3}))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range 10 {
		p, err := s.Deliver(context.Background(), capture(fmt.Sprintf("h-eth0-%d-r%d.pcap", 1700000000+i, i), []byte("data")))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		// Distinct modification times, even on a coarse clock.
		mod := base.Add(time.Duration(i) * time.Second)
		os.Chtimes(p, mod, mod)
		if names := testenv.ReadDirNames(dir); len(names) > 3 || !slices.Contains(names, p) {
			t.Fatalf("after delivery %d the directory holds %v", i, names)
		}
	}
	if names := testenv.ReadDirNames(dir); !slices.Equal(names, paths[7:]) {
		t.Errorf("directory %v, want the newest three %v", names, paths[7:])
	}
}

// TestOpenDuringRetention: a file that retention removes while it is being
// read (a download) is read to its end: the kernel keeps an unlinked
// file's data while a descriptor holds it open.
func TestOpenDuringRetention(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil, WithRetention(Retention{MaxFiles: 1}))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 31)
	}
	old, err := s.Deliver(context.Background(), capture("h-eth0-1700000000-old.pcap", data))
	if err != nil {
		t.Fatal(err)
	}
	os.Chtimes(old, base, base)
	f, err := s.Open(old)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(f, head); err != nil {
		t.Fatal(err)
	}
	// A newer capture: the old one goes.
	if _, err := s.Deliver(context.Background(), capture("h-eth0-1700000100-new.pcap", []byte("new"))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old capture is still there (%v): retention did not remove it", err)
	}
	rest, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := append(head, rest...); !bytes.Equal(got, data) {
		t.Errorf("read %d bytes of the removed file, want all %d unchanged", len(got), len(data))
	}
	if _, err := s.Open(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of the removed file = %v, want fs.ErrNotExist", err)
	}
}

// TestOpenOnlyCaptures: Open serves the sink's capture files in its
// directory and nothing else, whatever the location says.
func TestOpenOnlyCaptures(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, err := s.Deliver(context.Background(), capture("h-eth0-1700000000-a.pcap", []byte("pcap")))
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "h-eth0-1700000000-b.pcap")
	os.WriteFile(outside, []byte("secret"), 0o600)
	link := filepath.Join(dir, "h-eth0-1700000000-link.pcap")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
	f, err := s.Open(good)
	if err != nil {
		t.Fatalf("Open(%s) = %v", good, err)
	}
	f.Close()
	for _, loc := range []string{
		outside,
		link,
		filepath.Join(dir, "notes.txt"),
		dir + "/../" + filepath.Base(dir) + "/h-eth0-1700000000-a.pcap", // not clean
		dir + "//h-eth0-1700000000-a.pcap",
		"h-eth0-1700000000-a.pcap",
		"s3://bucket/h-eth0-1700000000-a.pcap",
		"/etc/passwd",
	} {
		if f, err := s.Open(loc); !errors.Is(err, ErrNotCapture) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%s) = %v, want ErrNotCapture", loc, err)
		}
	}
}

func TestIsCaptureName(t *testing.T) {
	for name, want := range map[string]bool{
		"host-eth0-1700000000-abc.pcap":          true,
		"host-eth0-1700000000-abc.pcapng":        true,
		"my-host-br-lan-1700000000-a.b-c_d.pcap": true,
		"host-eth0+eth1-1700000000-x.pcapng":     true,
		"host-eth0-1700000000-abc-1.pcap":        true, // a second file of that name
		".host-eth0-1700000000-abc.pcap.tmp-1":   false,
		"host-eth0-1700000000-abc.pcap.json":     false,
		"host-eth0-abc.pcap":                     false,
		"capture.pcap":                           false,
		"host-eth0-1700000000-abc.txt":           false,
	} {
		if got := IsCaptureName(name); got != want {
			t.Errorf("IsCaptureName(%q) = %v, want %v", name, got, want)
		}
	}
}
