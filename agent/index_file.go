package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/pcapdaemon/pcapdaemon/internal/tmpfile"
)

// IndexFile is the name of a FileIndex's file in its directory.
const IndexFile = "requests.jsonl"

// Bounds of a FileIndex: DefaultIndexEntries requests (as many as the
// agent keeps for Lookup) and DefaultIndexBytes bytes of file; one
// record (a request with its Results) is at most maxIndexRecord bytes.
const (
	DefaultIndexEntries = DefaultKeepRequests
	DefaultIndexBytes   = 4 << 20
	maxIndexRecord      = 256 << 10
)

// ErrIndexRecord is returned by FileIndex.Put for a record larger than the
// index takes.
var ErrIndexRecord = errors.New("index: record too large")

// FileIndex is an Index in one file of JSON lines, one record per Put.
//
// A Put appends its line with one write(2) and syncs the file: a crash can
// only tear the last line, which the next open skips. Whenever the file
// would pass its byte bound, or hold twice as many records as it keeps,
// it is compacted: the newest record of each of the newest requests (at
// most maxEntries of them, in at most half the byte bound) is written to a
// temporary file, synced, renamed over the index and the directory synced,
// so that the index is always either the old file or the new one. Opening
// an existing index compacts it too, which also drops a torn line. The file therefore never
// holds more than the byte bound, and the requests it gives back are the
// newest ones. It is safe for concurrent use.
type FileIndex struct {
	dir        string
	path       string
	maxEntries int
	maxBytes   int64
	log        *slog.Logger

	mu      sync.Mutex
	f       *os.File // the index, opened for appending; nil when closed or not reopened
	closed  bool
	size    int64 // bytes in the file
	records []indexRecord
	newest  map[string]int // id → position in records of its newest record
	dirty   bool           // an append failed: the file may end in a torn line
}

// indexRecord is one line of the file.
type indexRecord struct {
	id   string
	line []byte // JSON, with its newline
}

var _ Index = (*FileIndex)(nil)

// OpenIndex opens the FileIndex in dir, keeping at most maxEntries
// requests (0: DefaultIndexEntries) in a file of at most maxBytes (0:
// DefaultIndexBytes). Records it cannot read are logged and dropped. The
// directory (mode 0700) and the file are made by the first Put: an agent
// that finishes no request leaves nothing behind.
func OpenIndex(dir string, maxEntries int, maxBytes int64, log *slog.Logger) (*FileIndex, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if maxEntries <= 0 {
		maxEntries = DefaultIndexEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultIndexBytes
	}
	maxBytes = max(maxBytes, 4*maxIndexRecord)
	ix := &FileIndex{
		dir: dir, path: filepath.Join(dir, IndexFile), maxEntries: maxEntries, maxBytes: maxBytes,
		log: log, newest: map[string]int{},
	}
	found, err := ix.load()
	if err != nil || !found {
		return ix, err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.compact(); err != nil {
		return nil, err
	}
	return ix, nil
}

// Path returns the index's file.
func (ix *FileIndex) Path() string { return ix.path }

// load reads the records of the file, if there is one (found).
func (ix *FileIndex) load() (found bool, err error) {
	f, err := os.Open(ix.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index: %w", err)
	}
	defer f.Close()
	// A file past twice its bound is not one this index wrote: read its
	// beginning only.
	b, err := io.ReadAll(io.LimitReader(f, 2*ix.maxBytes))
	if err != nil {
		return false, fmt.Errorf("index: reading %s: %w", ix.path, err)
	}
	bad := 0
	for n := 1; len(b) > 0; n++ {
		line, rest, complete := bytes.Cut(b, []byte("\n"))
		b = rest
		var e IndexEntry
		if err := json.Unmarshal(line, &e); err != nil || !complete || !ValidID(e.ID) {
			if len(bytes.TrimSpace(line)) > 0 {
				bad++
				ix.log.Warn("unreadable index record dropped", "path", ix.path, "line", n, "complete", complete, "error", err)
			}
			continue
		}
		ix.add(e.ID, append(line, '\n'))
	}
	if bad > 0 {
		ix.log.Warn("index records dropped", "path", ix.path, "records", bad)
	}
	return true, nil
}

// add appends a record in memory; ix.mu is held (or ix is not shared yet).
func (ix *FileIndex) add(id string, line []byte) {
	ix.newest[id] = len(ix.records)
	ix.records = append(ix.records, indexRecord{id: id, line: line})
}

// Put appends e's record and syncs it, compacting first when the file
// would pass its bounds.
func (ix *FileIndex) Put(e IndexEntry) error {
	if !ValidID(e.ID) {
		return fmt.Errorf("index: invalid request id %q", e.ID)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	line := append(b, '\n')
	if len(line) > maxIndexRecord {
		return fmt.Errorf("%w: request %s's record is %d bytes, the limit is %d", ErrIndexRecord, e.ID, len(line), maxIndexRecord)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return fmt.Errorf("index: %s is closed", ix.path)
	}
	ix.add(e.ID, line)
	if ix.f == nil || ix.dirty || ix.size+int64(len(line)) > ix.maxBytes || len(ix.records) > 2*ix.maxEntries {
		return ix.compact()
	}
	if _, err := ix.f.Write(line); err != nil {
		ix.dirty = true
		return fmt.Errorf("index: appending to %s: %w", ix.path, err)
	}
	ix.size += int64(len(line))
	if err := ix.f.Sync(); err != nil {
		ix.dirty = true
		return fmt.Errorf("index: syncing %s: %w", ix.path, err)
	}
	return nil
}

// Entries returns the newest record of each request kept, oldest first.
func (ix *FileIndex) Entries() ([]IndexEntry, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]IndexEntry, 0, len(ix.newest))
	for i, rec := range ix.records {
		if ix.newest[rec.id] != i {
			continue
		}
		var e IndexEntry
		if err := json.Unmarshal(rec.line, &e); err != nil {
			return nil, fmt.Errorf("index: record of %s: %w", rec.id, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Close closes the file; later Puts fail. It is idempotent.
func (ix *FileIndex) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed || ix.f == nil {
		ix.closed = true
		return nil
	}
	ix.closed = true
	err := ix.f.Close()
	ix.f = nil
	return err
}

// compact keeps the newest record of each of the newest requests within
// the bounds and rewrites the file with them atomically; ix.mu is held.
func (ix *FileIndex) compact() error {
	var keep []indexRecord
	budget := ix.maxBytes / 2
	for i := len(ix.records) - 1; i >= 0 && len(keep) < ix.maxEntries; i-- {
		rec := ix.records[i]
		if ix.newest[rec.id] != i {
			continue
		}
		if budget -= int64(len(rec.line)); budget < 0 {
			break
		}
		keep = append(keep, rec)
	}
	ix.records = ix.records[:0:0]
	ix.newest = make(map[string]int, len(keep))
	var size int64
	for i := len(keep) - 1; i >= 0; i-- {
		ix.add(keep[i].id, keep[i].line)
		size += int64(len(keep[i].line))
	}
	// Until the new file is in place, the old one (if any) stays as it
	// was, and the next Put compacts again.
	ix.dirty = true
	if err := os.MkdirAll(ix.dir, 0o700); err != nil {
		return fmt.Errorf("index: directory %s: %w", ix.dir, err)
	}
	tmp, err := tmpfile.Create(ix.dir, "."+IndexFile+".tmp-*", 0o600)
	if err != nil {
		return fmt.Errorf("index: compacting: %w", err)
	}
	w := make([]byte, 0, size)
	for _, rec := range ix.records {
		w = append(w, rec.line...)
	}
	_, err = tmp.Write(w)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), ix.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("index: compacting %s: %w", ix.path, err)
	}
	// The file just renamed is the index now: append to it.
	if ix.f != nil {
		ix.f.Close()
		ix.f = nil
	}
	f, err := os.OpenFile(ix.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("index: reopening %s: %w", ix.path, err)
	}
	ix.f, ix.size, ix.dirty = f, size, false
	if err := tmpfile.SyncDir(ix.dir); err != nil {
		return fmt.Errorf("index: syncing %s: %w", ix.dir, err)
	}
	return nil
}
