package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// journalIDs lists the request ids in a FileJournal's directory.
func journalIDs(t *testing.T, j *FileJournal) []string {
	t.Helper()
	es, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestFileJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	logs := new(testenv.SyncBuffer)
	j, err := OpenJournal(dir, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sub := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"a", ".x", "b-2"} {
		if err := j.Add(JournalEntry{ID: id, Node: "n", Interfaces: []string{"eth0", "eth1"}, Submitted: sub}); err != nil {
			t.Fatalf("Add(%s): %v", id, err)
		}
	}
	if err := j.Add(JournalEntry{ID: ".."}); err == nil {
		t.Error("Add of the id .. succeeded")
	}
	if err := j.Add(JournalEntry{ID: "../escape"}); err == nil {
		t.Error("Add of an invalid id succeeded")
	}
	// Not ours, or broken: the bad records are removed, the rest ignored.
	os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "other.json"), []byte(`{"id":"a"}`), 0o600)
	os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte(`{"id":"x"}`), 0o600)
	es, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 || es[0].ID != ".x" || es[1].ID != "a" || !slices.Equal(es[1].Interfaces, []string{"eth0", "eth1"}) || !es[1].Submitted.Equal(sub) {
		t.Errorf("Entries = %+v", es)
	}
	for _, f := range []string{"junk.json", "other.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("bad record %s not removed (%v)", f, err)
		}
		if !strings.Contains(logs.String(), f) {
			t.Errorf("bad record %s not logged:\n%s", f, logs)
		}
	}
	if err := j.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if err := j.Remove("a"); err != nil {
		t.Errorf("second Remove = %v, want nil", err)
	}
	if got := journalIDs(t, j); !slices.Equal(got, []string{".x", "b-2"}) {
		t.Errorf("after Remove: %v", got)
	}
}

// TestJournalRunningRequests checks that a request is in the journal while
// its captures run and leaves it once its results are published, and
// that a request without publishers leaves it when it finishes.
func TestJournalRunningRequests(t *testing.T) {
	for _, tt := range []struct {
		name       string
		publishers bool
	}{{"published", true}, {"no publisher", false}} {
		t.Run(tt.name, func(t *testing.T) {
			j, err := OpenJournal(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			opts := []Option{WithJournal(j)}
			if !tt.publishers {
				opts = append(opts, func(a *Agent) { a.pubs = nil })
			}
			ta := newTestAgent(t, Config{}, opts...)
			ta.host.block["eth0"], ta.host.block["eth1"] = true, true
			id := submit(t, ta, `{"node":"any","interface":["eth0","eth1"]}`)
			if got := journalIDs(t, j); !slices.Equal(got, []string{id}) {
				t.Fatalf("journal while running: %v, want [%s]", got, id)
			}
			es, _ := j.Entries()
			if e := es[0]; e.Node != "cap1.example.net" || e.Source != "test" || !slices.Equal(e.Interfaces, []string{"eth0", "eth1"}) {
				t.Errorf("journal record %+v", e)
			}
			ta.host.waitBlocked(t, "eth0")
			ta.host.waitBlocked(t, "eth1")
			if err := ta.Cancel(id); err != nil {
				t.Fatal(err)
			}
			if tt.publishers {
				ta.result(t)
				ta.result(t)
			}
			if !testenv.WaitFor(5*time.Second, func() bool { return len(journalIDs(t, j)) == 0 }) {
				t.Errorf("journal after the results: %v, want empty", journalIDs(t, j))
			}
		})
	}
}

// TestRecoverJournal starts an agent over the journal a killed process
// left: each interface capture of each interrupted request gets a result
// with status error and stop reason restart, published and kept for
// Lookup, and the journal is empty once they are published.
func TestRecoverJournal(t *testing.T) {
	j, err := OpenJournal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	j.Add(JournalEntry{ID: "killed", Source: "http", Node: "cap1.example.net", Interfaces: []string{"eth0", "eth1"}, Submitted: sub})
	j.Add(JournalEntry{ID: "killed-too", Source: "redis", Node: "cap1.example.net", Interfaces: []string{"eth2"}, Submitted: sub})

	ta := newTestAgent(t, Config{}, WithJournal(j))
	n, err := ta.RecoverJournal()
	if err != nil || n != 2 {
		t.Fatalf("RecoverJournal = %d, %v; want 2", n, err)
	}
	got := map[string]Result{}
	for range 3 {
		r := ta.result(t)
		got[r.ID+"/"+r.Interface] = r
	}
	for _, k := range []string{"killed/eth0", "killed/eth1", "killed-too/eth2"} {
		r, ok := got[k]
		if !ok || r.Status != StatusError || r.StopReason != StopRestart || !strings.HasPrefix(r.Error, "restart:") ||
			!r.Started.Equal(sub) || r.Node != "cap1.example.net" || r.Locations == nil {
			t.Errorf("%s: %+v, want status error, stop_reason restart", k, r)
		}
	}
	st, ok := ta.Lookup("killed")
	if !ok || st.Phase != PhaseDone || len(st.Results) != 2 || st.Results[0].StopReason != StopRestart {
		t.Errorf("Lookup(killed) = %+v, %v", st, ok)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return len(journalIDs(t, j)) == 0 }) {
		t.Errorf("journal after the results: %v, want empty", journalIDs(t, j))
	}
	if m := ta.Metrics(); m.Captures[StatusError] != 3 {
		t.Errorf("captures with status error: %d, want 3", m.Captures[StatusError])
	}
}

// gatePublisher holds every result until it is opened.
type gatePublisher struct {
	open chan struct{}
	got  chan Result
}

func (g *gatePublisher) PublishResult(ctx context.Context, r Result) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.got <- r
	return nil
}

// TestJournalUntilPublished holds the publisher back: the finished request
// stays in the journal until its results are published.
func TestJournalUntilPublished(t *testing.T) {
	j, err := OpenJournal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	gate := &gatePublisher{open: make(chan struct{}), got: make(chan Result, 4)}
	ta := newTestAgent(t, Config{PublishTimeout: time.Minute}, WithJournal(j), func(a *Agent) { a.pubs = []ResultPublisher{gate} })
	ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
	id := submit(t, ta, `{"node":"any","interface":["eth0"],"packets":1}`)
	if !testenv.WaitFor(5*time.Second, func() bool { st, _ := ta.Lookup(id); return st.Phase == PhaseDone }) {
		t.Fatal("capture did not finish")
	}
	if got := journalIDs(t, j); !slices.Equal(got, []string{id}) {
		t.Fatalf("journal with the result unpublished: %v, want [%s]", got, id)
	}
	close(gate.open)
	<-gate.got
	if !testenv.WaitFor(5*time.Second, func() bool { return len(journalIDs(t, j)) == 0 }) {
		t.Errorf("journal after the result was published: %v, want empty", journalIDs(t, j))
	}
}
