package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/internal/tmpfile"
)

// journalSuffix ends a FileJournal record: <id>.json.
const journalSuffix = ".json"

// maxJournalRecord bounds one record's size, and MaxJournalEntries the
// records Entries reads: the journal holds only running requests (at most
// Config.MaxConcurrent), so anything beyond these is not ours.
const (
	maxJournalRecord  = 64 << 10
	MaxJournalEntries = 4096
)

// FileJournal is a Journal in a directory: one small file per running
// request, written to a temporary name, synced, renamed and the directory
// synced, removed (and the directory synced) once the request's results
// are published. It is safe for concurrent use: each request has its own
// file.
type FileJournal struct {
	dir string
	log *slog.Logger
}

var _ Journal = (*FileJournal)(nil)

// OpenJournal returns the FileJournal in dir, creating the directory (0700)
// if needed.
func OpenJournal(dir string, log *slog.Logger) (*FileJournal, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: directory %s: %w", dir, err)
	}
	return &FileJournal{dir: dir, log: log}, nil
}

// Dir returns the journal's directory.
func (j *FileJournal) Dir() string { return j.dir }

func (j *FileJournal) path(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("journal: invalid request id %q", id)
	}
	return filepath.Join(j.dir, id+journalSuffix), nil
}

// Add writes e's record durably.
func (j *FileJournal) Add(e JournalEntry) (err error) {
	path, err := j.path(e.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	f, err := os.CreateTemp(j.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("journal: record %s: %w", path, err)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return j.syncDir()
}

// Remove deletes id's record; a record that is not there is no error.
func (j *FileJournal) Remove(id string) error {
	path, err := j.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	// Durable too: a removal lost in a crash would report a finished
	// request as interrupted.
	if err := j.syncDir(); err != nil {
		return fmt.Errorf("journal: %s: %w", path, err)
	}
	return nil
}

// Entries reads the records in the directory (at most MaxJournalEntries).
// A record that cannot be read is logged and removed: it cannot be
// reported, and would be logged again at every start.
func (j *FileJournal) Entries() ([]JournalEntry, error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []JournalEntry
	for _, de := range ents {
		name := de.Name()
		if !strings.HasSuffix(name, journalSuffix) || !de.Type().IsRegular() {
			continue
		}
		if len(out) == MaxJournalEntries {
			j.log.Error("journal holds more records than running requests can make; the rest are ignored",
				"dir", j.dir, "limit", MaxJournalEntries)
			break
		}
		path := filepath.Join(j.dir, name)
		e, err := readRecord(path)
		if err == nil && e.ID+journalSuffix != name {
			err = fmt.Errorf("record of request %q in file %s", e.ID, name)
		}
		if err != nil {
			j.log.Error("unreadable journal record removed", "path", path, "error", err)
			os.Remove(path)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func readRecord(path string) (JournalEntry, error) {
	var e JournalEntry
	f, err := os.Open(path)
	if err != nil {
		return e, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJournalRecord+1))
	if err != nil {
		return e, err
	}
	if len(b) > maxJournalRecord {
		return e, fmt.Errorf("larger than %d bytes", maxJournalRecord)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, err
	}
	if !ValidID(e.ID) {
		return e, fmt.Errorf("invalid request id %q", e.ID)
	}
	return e, nil
}

func (j *FileJournal) syncDir() error { return tmpfile.SyncDir(j.dir) }
