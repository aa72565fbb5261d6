package spool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/tmpfile"
)

// entry is the JSON description of a spooled capture, <name>.json beside
// the capture file <name>.
type entry struct {
	Capture  agent.Capture     `json:"capture"` // Data is null: the file holds it
	File     string            `json:"file"`    // base name of the capture file
	Pending  []string          `json:"pending"` // sinks still owed the file
	Errors   map[string]string `json:"errors"`  // last failure per pending sink
	Spooled  time.Time         `json:"spooled"`
	Rounds   int               `json:"rounds"` // failed retry rounds
	NextTry  time.Time         `json:"next_try"`
	metaPath string
}

// Entry describes a spooled capture (see Spool.Entries).
type Entry struct {
	Path    string // the capture file
	ID      string
	Pending []string
	Errors  map[string]string
	Spooled time.Time
	NextTry time.Time
}

// metaSuffix ends a spool entry's description; failedSuffix one given up.
const (
	metaSuffix   = ".json"
	failedSuffix = ".json.failed"
)

// write spools c for the pending sinks and returns the capture file's path.
func (s *Spool) write(c *agent.Capture, pending []string, failures []SinkError) (string, error) {
	if c.Data == nil {
		return "", errors.New("capture without data")
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if err := s.makeRoom(c.Data.Len()); err != nil {
		return "", err
	}
	name := filepath.Base(c.FileName)
	if name == "" || name == "." || name == "/" || strings.HasPrefix(name, ".") {
		name = "capture-" + c.ID + ".pcap"
	}
	// Keep an earlier entry of the same name.
	base := name
	for i := 1; ; i++ {
		_, err1 := os.Lstat(filepath.Join(s.cfg.Dir, name))
		_, err2 := os.Lstat(filepath.Join(s.cfg.Dir, name+metaSuffix))
		if errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%d-%s", i, base)
	}
	path := filepath.Join(s.cfg.Dir, name)
	if err := s.writeAtomic(path, func(w io.Writer) error {
		_, err := io.Copy(w, c.Data.NewReader())
		return err
	}); err != nil {
		os.Remove(path) // renamed, perhaps, but not known to be durable
		return "", err
	}
	now := s.cfg.Now()
	e := &entry{Capture: *c, File: name, Pending: pending, Errors: map[string]string{},
		Spooled: now, NextTry: now.Add(s.backoff(0)), metaPath: path + metaSuffix}
	e.Capture.Data = nil
	for _, f := range failures {
		if slices.Contains(pending, f.Sink) {
			e.Errors[f.Sink] = f.Err.Error()
		}
	}
	if err := s.save(e); err != nil {
		os.Remove(e.metaPath)
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// save writes e's description atomically: the commit point of an entry.
func (s *Spool) save(e *entry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return s.writeAtomic(e.metaPath, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// writeAtomic writes a file through a synced temporary file renamed over
// path, so that readers see all of it or nothing, and then syncs the
// directory: until then the rename is only in memory, and a crash could
// leave the directory without the file although the caller was told that
// it was kept.
func (s *Spool) writeAtomic(path string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if err = s.syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sync directory of %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs the directory dir, making the entries renamed into it
// durable.
func syncDir(dir string) error { return tmpfile.SyncDir(dir) }

// load reads every entry description of the spool directory.
func (s *Spool) load() ([]*entry, error) {
	if s.cfg.Dir == "" {
		return nil, nil
	}
	metas, err := filepath.Glob(filepath.Join(s.cfg.Dir, "*"+metaSuffix))
	if err != nil {
		return nil, err
	}
	slices.Sort(metas)
	var out []*entry
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			s.log.Warn("unreadable spool entry", "path", m, "err", err)
			continue
		}
		e := &entry{metaPath: m}
		if err := json.Unmarshal(b, e); err != nil || e.File == "" || filepath.Base(e.File) != e.File {
			s.log.Warn("malformed spool entry left alone", "path", m, "err", err)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Entries lists the spooled captures still being retried.
func (s *Spool) Entries() ([]Entry, error) {
	es, err := s.load()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{Path: filepath.Join(s.cfg.Dir, e.File), ID: e.Capture.ID, Pending: e.Pending,
			Errors: e.Errors, Spooled: e.Spooled, NextTry: e.NextTry}
	}
	return out, nil
}

// fileData is a spooled capture file as agent.CaptureData: readers are
// sections of the open file, nothing is loaded whole.
type fileData struct {
	f    *os.File
	size int64
}

func (d fileData) Len() int64               { return d.size }
func (d fileData) NewReader() io.ReadSeeker { return io.NewSectionReader(d.f, 0, d.size) }

// Run retries the spool every Interval until ctx ends; it starts with a
// round at once, so captures spooled before a restart are picked up. With
// no spool directory it just waits for ctx. It returns ctx's error.
func (s *Spool) Run(ctx context.Context) error {
	if s.cfg.Dir == "" {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTicker(min(s.cfg.Interval, time.Minute))
	defer t.Stop()
	for {
		s.RetryDue(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RetryDue tries every entry whose next try is due and returns how many
// entries were fully delivered.
func (s *Spool) RetryDue(ctx context.Context) int { return s.retry(ctx, false) }

// RetryAll tries every entry now, due or not (operators, tests), and
// returns how many entries were fully delivered.
func (s *Spool) RetryAll(ctx context.Context) int { return s.retry(ctx, true) }

func (s *Spool) retry(ctx context.Context, all bool) int {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	es, err := s.load()
	if err != nil {
		s.log.Error("cannot list spool", "dir", s.cfg.Dir, "err", err)
		return 0
	}
	done := 0
	for _, e := range es {
		if ctx.Err() != nil {
			break
		}
		now := s.cfg.Now()
		if now.Sub(e.Spooled) > s.cfg.MaxAge {
			s.giveUp(e)
			continue
		}
		if !all && now.Before(e.NextTry) {
			continue
		}
		if s.retryEntry(ctx, e) {
			done++
		}
	}
	return done
}

// retryEntry delivers one entry to its pending sinks and reports whether
// none is left pending (the entry is then removed). When a sink took it,
// OnDelivered hears of it once the entry is updated.
func (s *Spool) retryEntry(ctx context.Context, e *entry) bool {
	path := filepath.Join(s.cfg.Dir, e.File)
	f, err := os.Open(path)
	if err != nil {
		s.log.Error("spooled capture file missing; entry dropped", "path", path, "err", err)
		os.Remove(e.metaPath)
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.log.Error("cannot stat spooled capture", "path", path, "err", err)
		return false
	}
	c := e.Capture
	c.Data = fileData{f: f, size: st.Size()}
	var (
		still []string
		locs  []string
	)
	for _, name := range e.Pending {
		k := s.sink(name)
		if k == nil {
			s.log.Warn("spooled capture is owed to a sink that is not configured; kept", "path", path, "sink", name)
			still = append(still, name)
			continue
		}
		loc, err := k.Deliver(ctx, &c)
		if err != nil {
			if !retryable(err) {
				s.log.Error("spooled capture refused for good by sink", "path", path, "sink", name, "err", err)
				delete(e.Errors, name)
				continue
			}
			e.Errors[name] = err.Error()
			still = append(still, name)
			continue
		}
		delete(e.Errors, name)
		locs = append(locs, loc)
		s.log.Info("spooled capture delivered", "id", c.ID, "sink", name, "location", loc)
	}
	done := s.settle(e, still)
	if len(locs) > 0 && s.cfg.OnDelivered != nil {
		d := Delivery{Capture: e.Capture, Path: path, Bytes: st.Size(), Locations: locs, Pending: map[string]string{}}
		d.Capture.Data = nil
		for _, name := range still {
			d.Pending[name] = e.Errors[name]
		}
		s.cfg.OnDelivered(ctx, d)
	}
	return done
}

// settle records the outcome of a retry round of e: the entry is removed
// when no sink is left pending, else updated with the next try. An entry
// dropped meanwhile (to make room) stays dropped.
func (s *Spool) settle(e *entry, still []string) bool {
	path := filepath.Join(s.cfg.Dir, e.File)
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if _, err := os.Lstat(e.metaPath); err != nil {
		return false
	}
	if len(still) == 0 {
		if err := os.Remove(e.metaPath); err != nil {
			s.log.Error("cannot remove spool entry", "path", e.metaPath, "err", err)
			return false
		}
		os.Remove(path)
		return true
	}
	e.Pending = still
	e.Rounds++
	e.NextTry = s.cfg.Now().Add(s.backoff(e.Rounds))
	if err := s.save(e); err != nil {
		s.log.Error("cannot update spool entry", "path", e.metaPath, "err", err)
	}
	s.log.Warn("spooled capture still pending", "id", e.Capture.ID, "pending", still, "next_try", e.NextTry)
	return false
}

// giveUp stops retrying an entry older than MaxAge; its files are kept.
func (s *Spool) giveUp(e *entry) {
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	failed := strings.TrimSuffix(e.metaPath, metaSuffix) + failedSuffix
	if err := os.Rename(e.metaPath, failed); err != nil {
		s.log.Error("cannot retire spool entry", "path", e.metaPath, "err", err)
		return
	}
	s.log.Error("spooled capture not delivered within maxage; kept, no longer retried",
		"path", filepath.Join(s.cfg.Dir, e.File), "pending", e.Pending, "errors", e.Errors, "description", failed)
}

// sink returns the configured sink of that name, or nil.
func (s *Spool) sink(name string) agent.Sink {
	for _, k := range s.sinks {
		if k.Name() == name {
			return k
		}
	}
	return nil
}
