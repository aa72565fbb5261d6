package capture

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pcapdaemon/pcapdaemon/internal/tmpfile"
)

// atomicFile is a file written to a temporary name in its directory and
// renamed into place, so that no reader ever sees half of it. A name that
// is not a regular file (/dev/null, a FIFO) is written directly.
type atomicFile struct {
	f      *os.File
	name   string
	direct bool // f is name itself, not a temporary file
	done   bool
}

func createAtomic(name string) (*atomicFile, error) {
	if fi, err := os.Stat(name); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return nil, fmt.Errorf("creating %s: is a directory", name)
		}
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", name, err)
		}
		return &atomicFile{f: f, name: name, direct: true}, nil
	}
	// tcpdump creates its file 0666 and lets the umask decide.
	f, err := tmpfile.Create(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*", captureFileMode)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", name, err)
	}
	return &atomicFile{f: f, name: name}, nil
}

// captureFileMode is the mode -w creates its file with, before the umask.
const captureFileMode = 0o666

// commit writes the data and, for a regular file, syncs it and renames it
// into place.
func (a *atomicFile) commit(r io.Reader) error {
	_, err := io.Copy(a.f, r) // the buffer's reader is an io.WriterTo: no copy

	if err == nil && !a.direct {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !a.direct {
		err = os.Rename(a.f.Name(), a.name)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", a.name, err)
	}
	a.done = true
	return nil
}

// abort removes the temporary file unless commit succeeded.
func (a *atomicFile) abort() {
	if a.done {
		return
	}
	_ = a.f.Close()
	if !a.direct {
		_ = os.Remove(a.f.Name())
	}
}
