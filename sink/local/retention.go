package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Retention bounds the capture files kept in the directory ([general]
// localmaxfiles, localmaxbytes, localmaxage); a zero field sets no bound.
// Only files the sink writes count and are removed: names of the pattern
// <host>-<iface>-<unix seconds>-<id>.pcap[ng] (see IsCaptureName).
type Retention struct {
	MaxFiles int           // the most capture files kept
	MaxBytes int64         // the most bytes of capture files kept
	MaxAge   time.Duration // files modified (delivered) longer ago are removed
}

// active reports whether r bounds anything.
func (r Retention) active() bool { return r.MaxFiles > 0 || r.MaxBytes > 0 || r.MaxAge > 0 }

// The reasons of a Removal, after the bound that removed the file.
const (
	ReasonAge   = "age"
	ReasonFiles = "files"
	ReasonBytes = "bytes"
)

// Removal is one capture file that retention removed.
type Removal struct {
	Path   string
	Size   int64
	Age    time.Duration // since the file's modification (its delivery)
	Reason string        // ReasonAge, ReasonFiles or ReasonBytes
}

// Usage is what the capture files in the directory take.
type Usage struct {
	Files int
	Bytes int64
}

// captureName matches the names Deliver gives (agent.FileName, with the
// -N suffix of place): a name that does not start with a dot (temporary
// files do), then -<unix seconds>-<id>, then the extension.
var captureName = regexp.MustCompile(`^[^./][^/]*-[0-9]+-[A-Za-z0-9._-]+\.pcap(ng)?$`)

// IsCaptureName reports whether name (a base name) is one the sink gives
// its capture files: <host>-<iface>-<unix seconds>-<id>.pcap or .pcapng.
func IsCaptureName(name string) bool { return captureName.MatchString(name) }

// spoolSuffixes end the descriptions the spool writes beside its capture
// files: a directory shared with a spool keeps its spooled files.
var spoolSuffixes = []string{".json", ".json.failed"}

// file is a capture file found in the directory.
type file struct {
	name string
	size int64
	mod  time.Time
}

// scan lists the capture files of the directory, oldest first (by
// modification time, then name).
func (s *Sink) scan() ([]file, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("local sink: %w", err)
	}
	names := make(map[string]bool, len(ents))
	for _, de := range ents {
		names[de.Name()] = true
	}
	var out []file
	for _, de := range ents {
		name := de.Name()
		if !de.Type().IsRegular() || !IsCaptureName(name) ||
			slices.ContainsFunc(spoolSuffixes, func(suf string) bool { return names[name+suf] }) {
			continue
		}
		fi, err := de.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("local sink: %w", err)
		}
		out = append(out, file{name: name, size: fi.Size(), mod: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b file) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return out, nil
}

// Usage returns what the capture files in the directory take now.
func (s *Sink) Usage() (Usage, error) {
	files, err := s.scan()
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Files: len(files)}
	for _, f := range files {
		u.Bytes += f.size
	}
	return u, nil
}

// Prune removes the oldest capture files beyond the sink's Retention: the
// ones older than MaxAge, then the oldest while more than MaxFiles files
// or MaxBytes bytes remain. The file or byte bound never removes the
// newest file (a bound smaller than one capture would otherwise remove
// every capture as soon as it is written; configuration refuses such a
// bound, but a capture may pass maxbytes by its last frame). Each removal
// is logged and reported to the sink's OnRemoved. Deliver calls it after
// every delivery; the daemon also calls it hourly. A file being read (a
// download) is removed from the directory, but its reader reads on to its
// end: the kernel keeps an unlinked file's data while it is open. It
// returns what remains and what was removed.
func (s *Sink) Prune() (Usage, []Removal, error) {
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	files, err := s.scan()
	if err != nil {
		return Usage{}, nil, err
	}
	left := Usage{Files: len(files)}
	for _, f := range files {
		left.Bytes += f.size
	}
	r := s.ret
	if !r.active() {
		return left, nil, nil
	}
	now := s.now()
	var removed []Removal
	var errs []error
	for i, f := range files {
		age := now.Sub(f.mod)
		reason := ""
		switch newest := i == len(files)-1; {
		case r.MaxAge > 0 && age > r.MaxAge:
			reason = ReasonAge
		case newest:
		case r.MaxFiles > 0 && left.Files > r.MaxFiles:
			reason = ReasonFiles
		case r.MaxBytes > 0 && left.Bytes > r.MaxBytes:
			reason = ReasonBytes
		}
		if reason == "" {
			continue
		}
		path := filepath.Join(s.dir, f.name)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("local sink: retention: %w", err))
			continue
		}
		left.Files--
		left.Bytes -= f.size
		rm := Removal{Path: path, Size: f.size, Age: age, Reason: reason}
		removed = append(removed, rm)
		s.log.Info("local capture removed by retention", "path", path, "bytes", f.size,
			"age", age.Round(time.Second), "reason", reason, "limit", r.limit(reason))
		if s.onRemoved != nil {
			s.onRemoved(rm)
		}
	}
	if len(removed) > 0 {
		s.syncDir()
	}
	return left, removed, errors.Join(errs...)
}

// limit names the bound behind reason, for the log.
func (r Retention) limit(reason string) string {
	switch reason {
	case ReasonAge:
		return fmt.Sprintf("localmaxage %v", r.MaxAge)
	case ReasonFiles:
		return fmt.Sprintf("localmaxfiles %d", r.MaxFiles)
	}
	return fmt.Sprintf("localmaxbytes %d", r.MaxBytes)
}

// ErrNotCapture is returned by Open for a location that is not a capture
// file of the sink's directory.
var ErrNotCapture = errors.New("local sink: not a capture file of the local directory")

// Holds reports whether loc (a location Deliver returned) names a capture
// file directly in the sink's directory: an absolute, clean path whose
// directory is the sink's and whose name is a capture file name.
func (s *Sink) Holds(loc string) bool {
	return filepath.IsAbs(loc) && filepath.Clean(loc) == loc && filepath.Dir(loc) == s.dir &&
		IsCaptureName(filepath.Base(loc))
}

// Open opens the capture file at loc (a location Deliver returned) for
// reading. Anything that Holds refuses, or that is not a regular file (a
// symbolic link put in its place), returns an error matching
// ErrNotCapture; a file that is gone (retention, or removed by hand) one
// matching fs.ErrNotExist.
func (s *Sink) Open(loc string) (*os.File, error) {
	if !s.Holds(loc) {
		return nil, fmt.Errorf("%w: %q (directory %s)", ErrNotCapture, loc, s.dir)
	}
	fi, err := os.Lstat(loc)
	if err != nil {
		return nil, fmt.Errorf("local sink: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %v", ErrNotCapture, loc, fi.Mode().Type())
	}
	f, err := os.Open(loc)
	if err != nil {
		return nil, fmt.Errorf("local sink: %w", err)
	}
	// The name may have been replaced between the two looks.
	if fi2, err := f.Stat(); err != nil || !os.SameFile(fi, fi2) {
		f.Close()
		return nil, fmt.Errorf("%w: %s changed while it was opened", ErrNotCapture, loc)
	}
	return f, nil
}
