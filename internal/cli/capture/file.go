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
	// stream: f is a pipe or socket (a reader waits on the other end), or
	// the file was opened in place (-U): records go out as they come.
	stream bool
	done   bool
}

// createAtomic opens name for writing. inPlace (-U) writes a regular file
// under its own name too, so that it can be read while it grows, as
// tcpdump -U -w does.
func createAtomic(name string, inPlace bool) (*atomicFile, error) {
	fi, err := os.Stat(name)
	if err != nil {
		fi = nil
	}
	if fi != nil && fi.IsDir() {
		return nil, fmt.Errorf("creating %s: is a directory", name)
	}
	if inPlace || (fi != nil && !fi.Mode().IsRegular()) {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, captureFileMode)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", name, err)
		}
		stream := inPlace || (fi != nil && fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0)
		return &atomicFile{f: f, name: name, direct: true, stream: stream}, nil
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

// commit writes the data and finishes the file.
func (a *atomicFile) commit(r io.Reader) error {
	if _, err := io.Copy(a.f, r); err != nil { // the buffer's reader is an io.WriterTo: no copy
		_ = a.f.Close()
		return fmt.Errorf("writing %s: %w", a.name, err)
	}
	return a.finish()
}

// finish ends a file written through a.f: for a regular file it syncs it
// and renames it into place.
func (a *atomicFile) finish() error {
	var err error
	if !a.direct {
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
