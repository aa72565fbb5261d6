package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// memData is CaptureData over a byte slice.
type memData []byte

func (m memData) Len() int64               { return int64(len(m)) }
func (m memData) NewReader() io.ReadSeeker { return bytes.NewReader(m) }

func capture(name string, data []byte) *agent.Capture {
	return &agent.Capture{FileName: name, Data: memData(data), Packets: 1}
}

func TestDeliverWritesFile(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("pcapdata"), 100000)
	path, err := s.Deliver(context.Background(), capture("host-eth0-1700000000-abc.pcap", data))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "host-eth0-1700000000-abc.pcap"); path != want {
		t.Errorf("path = %q, want %q", path, want)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("file holds %d bytes, not the %d written", len(got), len(data))
	}
	// The mode: TestDeliverModeUmask.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (no temporary left)", len(entries))
	}
}

func TestDeliverNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := "h-eth0-1-x.pcapng"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range 3 {
		p, err := s.Deliver(context.Background(), capture(name, []byte{byte('a' + i)}))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Base(p))
	}
	want := []string{"h-eth0-1-x-1.pcapng", "h-eth0-1-x-2.pcapng", "h-eth0-1-x-3.pcapng"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("names = %v, want %v", paths, want)
	}
	if old, _ := os.ReadFile(filepath.Join(dir, name)); string(old) != "old" {
		t.Errorf("existing file was changed to %q", old)
	}
}

func TestDeliverConcurrentSameName(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	seen := make(map[string]bool)
	var mu sync.Mutex
	for i := range n {
		wg.Go(func() {
			p, err := s.Deliver(context.Background(), capture("same.pcap", bytes.Repeat([]byte{byte(i)}, 4096)))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[p] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d distinct files for %d deliveries", len(seen), n)
	}
}

// TestReaderNeverSeesHalfFile watches the directory while a large file is
// delivered: whenever the final name exists, it holds every byte.
func TestReaderNeverSeesHalfFile(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0xab}, 32<<20)
	final := filepath.Join(dir, "big.pcap")
	done := make(chan struct{})
	var bad error
	go func() {
		defer close(done)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			fi, err := os.Stat(final)
			if err == nil {
				if fi.Size() != int64(len(data)) {
					bad = errors.New("final name visible with a partial size")
				}
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	if _, err := s.Deliver(context.Background(), capture("big.pcap", data)); err != nil {
		t.Fatal(err)
	}
	<-done
	if bad != nil {
		t.Fatal(bad)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"empty", "", "no directory"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"not a dir", file, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.dir, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%q) = %v, want an error containing %q", tc.dir, err, tc.want)
			}
		})
	}
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "../x.pcap", "a/b.pcap", ".hidden", ".."} {
		if _, err := s.Deliver(context.Background(), capture(name, []byte("x"))); err == nil {
			t.Errorf("Deliver with file name %q succeeded", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Deliver(ctx, capture("c.pcap", []byte("x"))); !errors.Is(err, context.Canceled) {
		t.Errorf("Deliver with a cancelled context = %v, want context.Canceled", err)
	}
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		os.Chmod(ro, 0o500)
		rs, _ := New(ro, nil)
		if _, err := rs.Deliver(context.Background(), capture("x.pcap", []byte("x"))); !errors.Is(err, os.ErrPermission) {
			t.Errorf("Deliver into a read-only dir = %v, want a permission error", err)
		}
	}
}
