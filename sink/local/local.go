package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/tmpfile"
)

// FileMode is the permission a delivered file is created with, masked by
// the process's umask as for any new file: the owner writes, the group
// reads, others see nothing (captures hold other people's traffic). A
// service's UMask=0077 makes it 0600.
const FileMode fs.FileMode = 0o640

// maxSuffix bounds the search for a free name when the file exists.
const maxSuffix = 1000

// Sink writes captures into a directory. It implements agent.Sink.
type Sink struct {
	dir string
	log *slog.Logger

	ret       Retention
	onRemoved func(Removal)
	now       func() time.Time
	pruneMu   sync.Mutex // one Prune at a time
}

// Option configures a Sink.
type Option func(*Sink)

// WithRetention bounds the capture files kept in the directory (see
// Retention and Sink.Prune).
func WithRetention(r Retention) Option { return func(s *Sink) { s.ret = r } }

// OnRemoved calls f for every file retention removes (for the metrics).
func OnRemoved(f func(Removal)) Option { return func(s *Sink) { s.onRemoved = f } }

// WithClock sets the clock that file ages are measured with (default:
// time.Now).
func WithClock(now func() time.Time) Option { return func(s *Sink) { s.now = now } }

var _ agent.Sink = (*Sink)(nil)

// New returns a Sink writing into dir, which must be an existing directory.
func New(dir string, logger *slog.Logger, opts ...Option) (*Sink, error) {
	if dir == "" {
		return nil, errors.New("local sink: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local sink: directory %q: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("local sink: directory %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local sink: %q is not a directory", dir)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sink{dir: abs, log: logger, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Retention returns the sink's bounds.
func (s *Sink) Retention() Retention { return s.ret }

// Name returns "local".
func (s *Sink) Name() string { return "local" }

// Dir returns the directory files are written to.
func (s *Sink) Dir() string { return s.dir }

// Deliver writes c's data to c.FileName in the directory and returns the
// file's path. When that name is taken it writes NAME-1.EXT, NAME-2.EXT,
// ... instead. Then, with a Retention, it prunes the directory.
func (s *Sink) Deliver(ctx context.Context, c *agent.Capture) (string, error) {
	name := c.FileName
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("local sink: invalid file name %q", name)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("local sink: %s: %w", name, err)
	}
	tmp, err := tmpfile.Create(s.dir, "."+name+".tmp-*", FileMode)
	if err != nil {
		return "", fmt.Errorf("local sink: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	n, err := io.Copy(tmp, c.Data.NewReader())
	if err != nil {
		return "", fmt.Errorf("local sink: writing %s: %w", tmpName, err)
	}
	if n != c.Data.Len() {
		return "", fmt.Errorf("local sink: writing %s: wrote %d of %d bytes", tmpName, n, c.Data.Len())
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("local sink: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("local sink: %w", err)
	}
	path, err := s.place(tmpName, name)
	if err != nil {
		return "", err
	}
	ok = true
	s.syncDir()
	s.log.Info("capture written", "path", path, "bytes", n)
	if s.ret.active() {
		if _, _, err := s.Prune(); err != nil {
			s.log.Warn("retention after a delivery failed", "dir", s.dir, "error", err)
		}
	}
	return path, nil
}

// place gives the temporary file its final name without replacing an
// existing file: link(2) fails when the target exists, where rename(2)
// would silently replace it.
func (s *Sink) place(tmpName, name string) (string, error) {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; i <= maxSuffix; i++ {
		cand := name
		if i > 0 {
			cand = stem + "-" + strconv.Itoa(i) + ext
		}
		path := filepath.Join(s.dir, cand)
		err := os.Link(tmpName, path)
		if err == nil {
			if err := os.Remove(tmpName); err != nil {
				s.log.Warn("removing the temporary file failed", "path", tmpName, "error", err)
			}
			return path, nil
		}
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, errors.ErrUnsupported) {
			// No hard links on this file system: check, then rename. A file
			// created between the two would be replaced; nothing else
			// writes our names, so accept that.
			if _, err := os.Lstat(path); err == nil {
				continue
			}
			if err := os.Rename(tmpName, path); err != nil {
				return "", fmt.Errorf("local sink: %w", err)
			}
			return path, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("local sink: %w", err)
		}
	}
	return "", fmt.Errorf("local sink: %s and %d suffixed names already exist", filepath.Join(s.dir, name), maxSuffix)
}

// syncDir makes the new directory entry durable.
func (s *Sink) syncDir() {
	if err := tmpfile.SyncDir(s.dir); err != nil {
		s.log.Debug("syncing the directory failed", "dir", s.dir, "error", err)
	}
}
