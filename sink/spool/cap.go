package spool

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// stored is one capture kept in the spool directory, being retried or given
// up (*.json.failed): what the cap counts and may drop.
type stored struct {
	meta    string // its description
	file    string // the capture file
	id      string
	size    int64
	spooled time.Time
}

// Usage returns how many captures the spool directory holds (being retried
// or given up) and the bytes of their files: what Config.MaxBytes caps.
func (s *Spool) Usage() (captures int, bytes int64, err error) {
	all, err := s.stored(false)
	if err != nil {
		return 0, 0, err
	}
	for _, st := range all {
		bytes += st.size
	}
	return len(all), bytes, nil
}

// stored lists the captures in the directory; with ages, each one's spool
// time is read from its description (the modification time of the
// description when that cannot be read).
func (s *Spool) stored(ages bool) ([]stored, error) {
	if s.cfg.Dir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", s.cfg.Dir, err)
	}
	var out []stored
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") || de.IsDir() {
			continue // temporary files, the journal
		}
		var base string
		switch {
		case strings.HasSuffix(name, failedSuffix):
			base = strings.TrimSuffix(name, failedSuffix)
		case strings.HasSuffix(name, metaSuffix):
			base = strings.TrimSuffix(name, metaSuffix)
		default:
			continue
		}
		st := stored{meta: filepath.Join(s.cfg.Dir, name), file: filepath.Join(s.cfg.Dir, base)}
		if fi, err := os.Stat(st.file); err == nil {
			st.size = fi.Size()
		}
		if ages {
			var e entry
			if b, err := os.ReadFile(st.meta); err == nil && json.Unmarshal(b, &e) == nil && !e.Spooled.IsZero() {
				st.spooled, st.id = e.Spooled, e.Capture.ID
			} else if fi, err := de.Info(); err == nil {
				st.spooled = fi.ModTime()
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// makeRoom drops the oldest spooled captures until n more bytes fit under
// Config.MaxBytes. The caller holds dirMu.
func (s *Spool) makeRoom(n int64) error {
	limit := s.cfg.MaxBytes
	if limit <= 0 {
		return nil
	}
	if n > limit {
		return fmt.Errorf("%w: %d bytes, the spool holds at most %d ([general] spoolmaxbytes)", ErrTooLarge, n, limit)
	}
	all, err := s.stored(true)
	if err != nil {
		return err
	}
	var used int64
	for _, st := range all {
		used += st.size
	}
	if used+n <= limit {
		return nil
	}
	slices.SortStableFunc(all, func(a, b stored) int { return a.spooled.Compare(b.spooled) })
	for _, st := range all {
		if used+n <= limit {
			break
		}
		if err := os.Remove(st.meta); err != nil {
			s.log.Error("spool full: cannot drop a spooled capture", "file", st.file, "err", err)
			continue
		}
		os.Remove(st.file)
		used -= st.size
		s.log.Error("spool full: oldest spooled capture dropped to make room; it is lost",
			"id", st.id, "file", st.file, "size", st.size, "spooled", st.spooled, "spoolmaxbytes", limit)
		if s.cfg.OnDropped != nil {
			s.cfg.OnDropped(Entry{Path: st.file, ID: st.id, Spooled: st.spooled}, st.size)
		}
	}
	if used+n > limit {
		return fmt.Errorf("spool: %d bytes do not fit: %d of %d bytes in use after dropping what could be dropped", n, used, limit)
	}
	return nil
}
