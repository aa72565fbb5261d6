package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// indexIDs returns the ids of ix's entries, in order.
func indexIDs(t *testing.T, ix *FileIndex) []string {
	t.Helper()
	es, err := ix.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// fileLines returns the number of lines of the file at path and its size.
func fileLines(t *testing.T, path string) (int, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n")), int64(len(b))
}

func entry(id string, packets uint64) IndexEntry {
	return IndexEntry{
		ID: id, Source: "http", Submitted: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Interfaces: []string{"eth0"},
		Results: []Result{{ID: id, Node: "n", Interface: "eth0", Status: StatusOK, Packets: packets, Locations: []string{"/x/" + id + ".pcap"}}},
	}
}

// TestFileIndex: records survive a reopen, the newest record of a request
// replaces the older ones, and the order is the order of the last Puts.
func TestFileIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	ix, err := OpenIndex(dir, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an index without records made its directory (%v): it should wait for the first Put", err)
	}
	for i, id := range []string{"a", "b", "c", "a"} {
		if err := ix.Put(entry(id, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Put(IndexEntry{ID: "../x"}); err == nil {
		t.Error("Put of an invalid id succeeded")
	}
	ix.Close()
	if err := ix.Put(entry("d", 1)); err == nil {
		t.Error("Put after Close succeeded")
	}
	ix2, err := OpenIndex(dir, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	es, err := ix2.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if got := indexIDs(t, ix2); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Errorf("entries after a reopen: %v, want [b c a]", got)
	}
	if a := es[2]; a.Results[0].Packets != 3 || !a.Submitted.Equal(entry("a", 0).Submitted) || a.Source != "http" {
		t.Errorf("entry a = %+v, want its last record (packets 3)", a)
	}
	fi, err := os.Stat(ix2.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("index file %v, %v: want mode 0600", fi, err)
	}
	if names := testenv.ReadDirNames(dir); !slices.Equal(names, []string{ix2.Path()}) {
		t.Errorf("index directory holds %v, want only %s", names, IndexFile)
	}
}

// TestFileIndexBounds: however many requests are put, the file holds at
// most twice the kept count of records and never more than its byte bound,
// and a reopen gives the newest requests within both bounds.
func TestFileIndexBounds(t *testing.T) {
	big := strings.Repeat("t", 100<<10)
	for _, tt := range []struct {
		name       string
		maxEntries int
		tags       string
		puts       int
		keep       int // entries after a reopen
	}{
		{name: "by count", maxEntries: 5, puts: 23, keep: 5},
		{name: "by bytes", maxEntries: 1000, tags: big, puts: 30, keep: 5}, // 1 MiB bound: half of it holds 5 records of 100 KiB
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ix, err := OpenIndex(dir, tt.maxEntries, 1, nil) // the byte bound is raised to its floor, 1 MiB
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i := range tt.puts {
				e := entry(fmt.Sprintf("r%02d", i), uint64(i))
				e.Results[0].Tags = tt.tags
				if err := ix.Put(e); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, e.ID)
				lines, size := fileLines(t, ix.Path())
				if lines > 2*tt.maxEntries || size > 1<<20 {
					t.Fatalf("after %d puts the file holds %d records, %d bytes: beyond %d records or 1 MiB", i+1, lines, size, 2*tt.maxEntries)
				}
			}
			ix.Close()
			ix2, err := OpenIndex(dir, tt.maxEntries, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ix2.Close()
			if got, want := indexIDs(t, ix2), ids[len(ids)-tt.keep:]; !slices.Equal(got, want) {
				t.Errorf("entries after a reopen: %v, want the newest %v", got, want)
			}
		})
	}
}

// TestFileIndexTornLine: a crash in the middle of an append leaves half a
// line; the next open drops it (logged), keeps the rest, and later records
// are whole.
func TestFileIndexTornLine(t *testing.T) {
	dir := t.TempDir()
	ix, err := OpenIndex(dir, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix.Put(entry("a", 1))
	ix.Put(entry("b", 2))
	ix.Close()
	f, err := os.OpenFile(filepath.Join(dir, IndexFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json\n" + `{"id":"c","results":[{"id":"c","pack`) // a bad line, then a torn one
	f.Close()

	logs := new(testenv.SyncBuffer)
	ix2, err := OpenIndex(dir, 0, 0, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := indexIDs(t, ix2); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("entries: %v, want [a b]", got)
	}
	if !strings.Contains(logs.String(), "index records dropped") || !strings.Contains(logs.String(), "records=2") {
		t.Errorf("dropped records not logged:\n%s", logs)
	}
	if err := ix2.Put(entry("d", 4)); err != nil {
		t.Fatal(err)
	}
	ix2.Close()
	ix3, err := OpenIndex(dir, 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix3.Close()
	if got := indexIDs(t, ix3); !slices.Equal(got, []string{"a", "b", "d"}) {
		t.Errorf("entries after a Put on the repaired file: %v, want [a b d]", got)
	}
}

// waitDone waits until request id is done.
func waitDone(t *testing.T, a *Agent, id string) RequestState {
	t.Helper()
	var st RequestState
	if !testenv.WaitFor(5*time.Second, func() bool {
		st, _ = a.Lookup(id)
		return st.Phase == PhaseDone
	}) {
		t.Fatalf("request %s not done: %+v", id, st)
	}
	return st
}

// restartAgent shuts ta down, closes ix and starts a new agent on the
// index reopened, as the next process would.
func restartAgent(t *testing.T, ta *testAgent, ix *FileIndex, opts ...Option) (*testAgent, *FileIndex) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ta.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	ix2, err := OpenIndex(filepath.Dir(ix.Path()), 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix2.Close() })
	ta2 := newTestAgent(t, Config{}, append([]Option{WithIndex(ix2)}, opts...)...)
	if _, err := ta2.LoadIndex(); err != nil {
		t.Fatal(err)
	}
	return ta2, ix2
}

// TestIndexAcrossRestart: the finished requests of one agent are known to
// the next one on the same index, with the same state and results, listed
// in the same order; they keep their ids (the same message again is
// ignored, another one refused); rejected requests are not kept.
func TestIndexAcrossRestart(t *testing.T) {
	ix, err := OpenIndex(t.TempDir(), 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestAgent(t, Config{}, WithIndex(ix))
	ta.host.scripts["eth0"] = frames(3, 100, time.Millisecond)
	ta.host.block["eth1"] = true
	msgOK := `{"id":"ok1","node":"any","interface":["eth0"],"packets":3,"alertid":9}`
	submit(t, ta, msgOK)
	ta.clock.advance(time.Second)
	submit(t, ta, `{"id":"cancelled1","node":"any","interface":["eth1"]}`)
	ta.host.waitBlocked(t, "eth1")
	ta.Cancel("cancelled1")
	ta.Submit(context.Background(), []byte(`{"id":"bad1","node":"any","interface":["eth9"]}`), "test")
	before := map[string]RequestState{"ok1": waitDone(t, ta.Agent, "ok1"), "cancelled1": waitDone(t, ta.Agent, "cancelled1")}
	if !testenv.WaitFor(5*time.Second, func() bool { return len(indexIDs(t, ix)) == 2 }) {
		t.Fatalf("index holds %v, want ok1 and cancelled1", indexIDs(t, ix))
	}

	ta2, _ := restartAgent(t, ta, ix)
	for id, want := range before {
		got, ok := ta2.Lookup(id)
		if !ok || got.Phase != PhaseDone || got.Source != want.Source || !got.Submitted.Equal(want.Submitted) ||
			!slices.Equal(got.Interfaces, want.Interfaces) || len(got.Results) != 1 {
			t.Errorf("Lookup(%s) after the restart = %+v, %v; want %+v", id, got, ok, want)
			continue
		}
		g, w := got.Results[0], want.Results[0]
		if g.Status != w.Status || g.StopReason != w.StopReason || g.Packets != w.Packets || !slices.Equal(g.Locations, w.Locations) || g.AlertID != w.AlertID {
			t.Errorf("%s's result after the restart = %+v, want %+v", id, g, w)
		}
	}
	if _, ok := ta2.Lookup("bad1"); ok {
		t.Error("a rejected request was kept across the restart")
	}
	if got, _ := listIDs(t, ta2.Agent, "", 10); !slices.Equal(got, []string{"cancelled1", "ok1"}) {
		t.Errorf("List after the restart: %v, want [cancelled1 ok1]", got)
	}
	// The same message again (SQS redelivers after a crash): ignored.
	if _, err := ta2.Submit(context.Background(), []byte(msgOK), "sqs"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("the same message after the restart: %v, want ErrDuplicate", err)
	}
	ta2.noResult(t)
	// Another request with the id: refused, the stored one kept.
	if _, err := ta2.Submit(context.Background(), []byte(`{"id":"ok1","node":"any","interface":["eth1"]}`), "http"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("another request with a kept id: %v, want ErrDuplicate", err)
	}
	if r := ta2.result(t); r.Status != StatusRejected {
		t.Errorf("result of the refused request: %+v", r)
	}
}

// TestIndexAndJournal: a request that the index holds as finished while
// the journal still holds it as running (the process ended between the two
// writes) gets its results published again at the next start, not a
// "restart" result; one the index does not hold is reported as
// interrupted, and kept in the index from then on.
func TestIndexAndJournal(t *testing.T) {
	dir := t.TempDir()
	ix, err := OpenIndex(filepath.Join(dir, "index"), 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := OpenJournal(filepath.Join(dir, "journal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	ix.Put(entry("finished", 7))
	j.Add(JournalEntry{ID: "finished", Node: "cap1.example.net", Interfaces: []string{"eth0"}, Submitted: sub})
	j.Add(JournalEntry{ID: "interrupted", Node: "cap1.example.net", Interfaces: []string{"eth0"}, Submitted: sub})

	ta := newTestAgent(t, Config{}, WithIndex(ix), WithJournal(j))
	if n, err := ta.LoadIndex(); n != 1 || err != nil {
		t.Fatalf("LoadIndex = %d, %v", n, err)
	}
	if _, err := ta.RecoverJournal(); err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for range 2 {
		r := ta.result(t)
		got[r.ID] = r
	}
	if r := got["finished"]; r.Status != StatusOK || r.Packets != 7 || r.StopReason == StopRestart {
		t.Errorf("finished request's result: %+v, want its indexed result again", r)
	}
	if r := got["interrupted"]; r.StopReason != StopRestart {
		t.Errorf("interrupted request's result: %+v, want stop_reason restart", r)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return len(journalIDs(t, j)) == 0 }) {
		t.Errorf("journal: %v, want empty", journalIDs(t, j))
	}
	if ids := indexIDs(t, ix); !slices.Equal(ids, []string{"finished", "interrupted"}) {
		t.Errorf("index: %v, want [finished interrupted]", ids)
	}
}

// TestIndexRedeliveredAfterRestart: a capture the spool kept is delivered
// after a restart; the indexed result names the spooled file, and the
// delivery turns it into status ok with the new location, in the index too.
func TestIndexRedeliveredAfterRestart(t *testing.T) {
	ix, err := OpenIndex(t.TempDir(), 0, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var spooled *Capture
	var loc string
	ta := newTestAgent(t, Config{}, WithIndex(ix), WithSpool(spoolOf{onSpool: func(c *Capture, l string) {
		cc := *c
		spooled, loc = &cc, l
	}}))
	ta.sink.fail = errors.New("unreachable")
	ta.host.scripts["eth0"] = frames(2, 100, time.Millisecond)
	id := submit(t, ta, `{"node":"any","interface":["eth0"],"packets":2}`)
	if r := ta.result(t); r.Status != StatusError || !slices.Equal(r.Locations, []string{loc}) {
		t.Fatalf("spooled result %+v", r)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return len(indexIDs(t, ix)) == 1 }) {
		t.Fatal("not indexed")
	}

	ta2, ix2 := restartAgent(t, ta, ix)
	ta2.Redelivered(redelivery(spooled, loc, []string{"s3://b/k"}, nil))
	if r := ta2.result(t); r.Status != StatusOK || !slices.Equal(r.Locations, []string{"s3://b/k"}) || r.Error != "" {
		t.Errorf("result after the redelivery: %+v, want status ok at s3://b/k", r)
	}
	es, _ := ix2.Entries()
	if len(es) != 1 || es[0].ID != id || es[0].Results[0].Status != StatusOK || len(es[0].Results) != 1 {
		t.Errorf("index after the redelivery: %+v", es)
	}
}
