package readerat

import (
	"bytes"
	"io"
	"testing"
)

// seekOnly hides every method of its reader but Read and Seek.
type seekOnly struct{ r io.ReadSeeker }

func (s seekOnly) Read(p []byte) (int, error)                { return s.r.Read(p) }
func (s seekOnly) Seek(off int64, whence int) (int64, error) { return s.r.Seek(off, whence) }

func TestNew(t *testing.T) {
	data := []byte("0123456789")
	br := bytes.NewReader(data)
	if got := New(br); got != io.ReaderAt(br) {
		t.Errorf("New(*bytes.Reader) = %T, want the reader itself", got)
	}
	ra := New(seekOnly{bytes.NewReader(data)})
	if _, ok := ra.(*seekReaderAt); !ok {
		t.Fatalf("New(seek-only reader) = %T, want the adapter", ra)
	}
	for _, tc := range []struct {
		name    string
		off     int64
		size    int
		want    string
		wantErr error
	}{
		{"start", 0, 4, "0123", nil},
		{"middle", 3, 4, "3456", nil},
		{"to the end", 6, 4, "6789", nil},
		{"short at the end", 8, 4, "89", io.EOF},
		{"past the end", 10, 4, "", io.EOF},
		{"empty", 5, 0, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := make([]byte, tc.size)
			n, err := ra.ReadAt(p, tc.off)
			if string(p[:n]) != tc.want || err != tc.wantErr {
				t.Errorf("ReadAt(%d bytes at %d) = %q, %v; want %q, %v", tc.size, tc.off, p[:n], err, tc.want, tc.wantErr)
			}
		})
	}
	// The adapter works as a section reader's source, as the sinks use it.
	got, err := io.ReadAll(io.NewSectionReader(ra, 2, 5))
	if err != nil || string(got) != "23456" {
		t.Errorf("section 2..7 = %q, %v", got, err)
	}
}
