package capfile

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chanWriter hands every Write's bytes to a channel.
type chanWriter struct{ got chan []byte }

func (w *chanWriter) Write(p []byte) (int, error) {
	w.got <- append([]byte(nil), p...)
	return len(p), nil
}

// recv waits for the next Write of w, failing after a deadline.
func recv(t *testing.T, w *chanWriter) []byte {
	t.Helper()
	select {
	case p := <-w.got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no write within 10s")
		return nil
	}
}

// TestGrowStreams: a reader's WriteTo writes each part of a growing File
// as soon as it is appended (before the file is whole), and ends at Done
// with the whole file; from an offset it skips what comes before it.
func TestGrowStreams(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  int64
	}{{"from the start", 0}, {"from inside the header", 3}, {"from inside the first run", 7}} {
		t.Run(tc.name, func(t *testing.T) {
			f := &File{}
			f.Append([]byte("head"))
			g := f.Grow()
			rd := f.Data().NewReader()
			if _, err := rd.Seek(tc.off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			w := &chanWriter{got: make(chan []byte, 16)}
			done := make(chan error, 1)
			go func() {
				_, err := rd.(io.WriterTo).WriteTo(w)
				done <- err
			}()
			var got []byte
			if tc.off < 4 {
				got = append(got, recv(t, w)...) // the header, at once
			}
			for _, run := range []string{"run-1", "run-22", "run-333"} {
				g.Borrow([]byte(run))
				got = append(got, recv(t, w)...) // each run before the next exists
			}
			g.Append([]byte("tail"))
			g.Done()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			close(w.got)
			for p := range w.got {
				got = append(got, p...)
			}
			want := "headrun-1run-22run-333tail"[tc.off:]
			if string(got) != want {
				t.Fatalf("WriteTo wrote %q, want %q", got, want)
			}
			if n := f.Len(); n != int64(len("headrun-1run-22run-333tail")) {
				t.Errorf("Len = %d", n)
			}
		})
	}
}

// TestGrowWaits: Len and ReadAt of a growing File answer for the whole
// file, once it is; a file on disk gets it all through writev.
func TestGrowWaits(t *testing.T) {
	f := &File{}
	f.Append([]byte("head"))
	g := f.Grow()
	d := f.Data()
	lens := make(chan int64, 1)
	go func() { lens <- d.Len() }()
	reads := make(chan string, 1)
	go func() {
		b := make([]byte, 8)
		n, _ := d.NewReader().(io.ReaderAt).ReadAt(b, 4)
		reads <- string(b[:n])
	}()
	path := filepath.Join(t.TempDir(), "out")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	wrote := make(chan error, 1)
	go func() {
		_, err := d.NewReader().(io.WriterTo).WriteTo(out)
		wrote <- err
	}()
	g.Borrow([]byte("records"))
	select {
	case n := <-lens:
		t.Fatalf("Len returned %d before the file was whole", n)
	default:
	}
	g.Append([]byte("!"))
	g.Done()
	if n := <-lens; n != 12 {
		t.Errorf("Len = %d, want 12", n)
	}
	if s := <-reads; s != "records!" {
		t.Errorf("ReadAt read %q", s)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, []byte("headrecords!")) {
		t.Errorf("file holds %q", b)
	}
}

// TestGrowReleaseWaitsForDone: a growing File released before Done gives
// its memory back at Done, not while the producer may still write into it.
func TestGrowReleaseWaitsForDone(t *testing.T) {
	f := &File{}
	back := make(chan struct{})
	f.OnRelease(func() { close(back) })
	g := f.Grow()
	g.Borrow([]byte("run"))
	f.Release()
	select {
	case <-back:
		t.Fatal("memory given back before the producer was done")
	default:
	}
	g.Done()
	select {
	case <-back:
	case <-time.After(10 * time.Second):
		t.Fatal("memory not given back after Done")
	}
}

// TestGrowHelp: readers waiting for a growing File do the work that grows
// it (Grower.Help) rather than sleep: here no other goroutine makes the
// file, so WriteTo and Len, in two goroutines at once, make it between
// them, part by part in order, and both end with the whole file.
func TestGrowHelp(t *testing.T) {
	f := &File{}
	f.Append([]byte("head"))
	g := f.Grow()
	parts := []string{"run-1", "run-22", "run-333", "tail"}
	var (
		mu    sync.Mutex
		i     int
		calls atomic.Int64
	)
	g.Help(func() bool {
		calls.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if i == len(parts) {
			return false
		}
		g.Borrow([]byte(parts[i]))
		if i++; i == len(parts) {
			g.Done()
		}
		return true
	})
	d := f.Data()
	lens := make(chan int64, 1)
	go func() { lens <- d.Len() }()
	var out bytes.Buffer
	wrote := make(chan error, 1)
	go func() {
		_, err := d.NewReader().(io.WriterTo).WriteTo(&out)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteTo did not end within 10s: the readers did not grow the file")
	}
	const want = "headrun-1run-22run-333tail"
	if out.String() != want {
		t.Errorf("WriteTo wrote %q, want %q", out.String(), want)
	}
	if n := <-lens; n != int64(len(want)) {
		t.Errorf("Len = %d, want %d", n, len(want))
	}
	if calls.Load() < int64(len(parts)) {
		t.Errorf("the helper ran %d times for %d parts", calls.Load(), len(parts))
	}
}
