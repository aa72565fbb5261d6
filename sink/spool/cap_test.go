package spool

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
)

// logRecorder keeps the records logged through it.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// errors returns the attributes of the Error records whose message is msg.
func (l *logRecorder) errors(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, r := range l.recs {
		if r.Level != slog.LevelError || r.Message != msg {
			continue
		}
		m := map[string]any{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
		out = append(out, m)
	}
	return out
}

const droppedMsg = "spool full: oldest spooled capture dropped to make room; it is lost"

// TestMaxBytes spools captures into a capped spool: what fits is kept, a
// capture that would pass the cap displaces the oldest ones (given-up
// entries included), each dropped one is logged as an error with its id,
// file and size and reported to OnDropped, and a capture larger than the
// cap is refused without dropping anything.
func TestMaxBytes(t *testing.T) {
	const kib = 1 << 10
	tests := []struct {
		name     string
		max      int64
		sizes    []int // spooled in this order, one second apart
		failed   int   // how many of the first ones are given up (*.json.failed)
		add      int
		wantDrop []int // indexes into sizes, oldest first
		tooLarge bool
	}{
		{name: "fits", max: 100 * kib, sizes: []int{20 * kib, 20 * kib}, add: 20 * kib},
		{name: "no cap", sizes: []int{200 * kib}, add: 200 * kib},
		{name: "oldest dropped", max: 100 * kib, sizes: []int{40 * kib, 40 * kib}, add: 30 * kib, wantDrop: []int{0}},
		{name: "two dropped", max: 100 * kib, sizes: []int{30 * kib, 30 * kib, 30 * kib}, add: 60 * kib, wantDrop: []int{0, 1}},
		{name: "given-up entry counted and dropped", max: 100 * kib, sizes: []int{40 * kib, 40 * kib}, failed: 1, add: 30 * kib, wantDrop: []int{0}},
		{name: "larger than the cap", max: 100 * kib, sizes: []int{40 * kib}, add: 120 * kib, tooLarge: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			now := time.Unix(1_700_000_000, 0)
			rec := &logRecorder{}
			var dropped []Entry
			var droppedBytes []int64
			s, err := New(Config{Dir: dir, MaxBytes: tt.max, MaxAge: 90 * time.Second, Now: func() time.Time { return now },
				OnDropped: func(e Entry, n int64) { dropped = append(dropped, e); droppedBytes = append(droppedBytes, n) }},
				[]agent.Sink{&fakeSink{name: "a", err: errDown}}, slog.New(rec))
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			var sizes []int64
			for j, n := range tt.sizes {
				c := sinktest.Capture(string(rune('a'+j)), sinktest.Pcap(n, uint64(i*10+j)))
				p, err := s.Keeper().Deliver(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				paths, sizes = append(paths, p), append(sizes, c.Data.Len())
				now = now.Add(time.Second)
			}
			if tt.failed > 0 {
				// Age the first entries past MaxAge: the round gives them up.
				now = now.Add(90*time.Second - time.Duration(len(tt.sizes)-tt.failed)*time.Second)
				s.RetryDue(context.Background())
				if _, err := os.Stat(paths[0] + failedSuffix); err != nil {
					t.Fatalf("entry not given up: %v", err)
				}
			}
			c := sinktest.Capture("new", sinktest.Pcap(tt.add, uint64(i*10+9)))
			p, err := s.Keeper().Deliver(context.Background(), c)
			if tt.tooLarge {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Deliver of %d bytes into a %d byte spool = %v, want ErrTooLarge", c.Data.Len(), tt.max, err)
				}
			} else if err != nil {
				t.Fatalf("Deliver: %v", err)
			} else if _, err := os.Stat(p); err != nil {
				t.Errorf("new capture not spooled: %v", err)
			}

			var wantIDs, gotIDs []string
			for _, j := range tt.wantDrop {
				wantIDs = append(wantIDs, string(rune('a'+j)))
			}
			for _, e := range dropped {
				gotIDs = append(gotIDs, e.ID)
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Fatalf("dropped %v, want %v", gotIDs, wantIDs)
			}
			logs := rec.errors(droppedMsg)
			if len(logs) != len(tt.wantDrop) {
				t.Fatalf("%d error lines %q, want %d", len(logs), droppedMsg, len(tt.wantDrop))
			}
			for k, j := range tt.wantDrop {
				if droppedBytes[k] != sizes[j] || logs[k]["id"] != wantIDs[k] || logs[k]["file"] != paths[j] || logs[k]["size"] != sizes[j] {
					t.Errorf("drop %d: reported %d bytes, logged %v; want id %s, file %s, size %d",
						k, droppedBytes[k], logs[k], wantIDs[k], paths[j], sizes[j])
				}
				for _, f := range []string{paths[j], paths[j] + metaSuffix, paths[j] + failedSuffix} {
					if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("dropped capture's %s still there (%v)", f, err)
					}
				}
			}
			_, used, err := s.Usage()
			if err != nil {
				t.Fatal(err)
			}
			if tt.max > 0 && used > tt.max {
				t.Errorf("spool holds %d bytes, more than its cap %d", used, tt.max)
			}
		})
	}
}

// TestDirSynced checks that a spooled capture's file and description are
// made durable: the directory is synced after each is renamed into it, and
// a capture whose directory cannot be synced is reported as not kept.
func TestDirSynced(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir}, []agent.Sink{&fakeSink{name: "a", err: errDown}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var synced []string // what the directory held, at each sync
	s.syncDir = func(d string) error {
		if d != dir {
			t.Errorf("synced %s, want the spool directory %s", d, dir)
		}
		synced = append(synced, readNames(t, dir)...)
		synced = append(synced, "|")
		return syncDir(d)
	}
	c := sinktest.Capture("durable", sinktest.Pcap(4<<10, 1))
	path, err := s.Keeper().Deliver(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	want := []string{name, "|", name, name + metaSuffix, "|"}
	if !slices.Equal(synced, want) {
		t.Errorf("directory at each sync %q, want %q (a sync after each rename)", synced, want)
	}

	errSync := errors.New("sync: input/output error")
	s.syncDir = func(string) error { return errSync }
	if _, err := s.Keeper().Deliver(context.Background(), sinktest.Capture("notsynced", sinktest.Pcap(4<<10, 2))); !errors.Is(err, errSync) {
		t.Errorf("Deliver with a failing directory sync = %v, want the sync error", err)
	}
	if es, _ := s.Entries(); len(es) != 1 || es[0].ID != "durable" {
		t.Errorf("entries %+v, want only the durable one", es)
	}
}

// readNames lists dir without the temporary files.
func readNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Name()[0] != '.' {
			out = append(out, e.Name())
		}
	}
	return out
}

// blockingSink fails, but only once the test lets it.
type blockingSink struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingSink) Name() string { return "a" }
func (b *blockingSink) Deliver(context.Context, *agent.Capture) (string, error) {
	b.started <- struct{}{}
	<-b.release
	return "", errDown
}

// TestDropDuringRetry drops an entry (to make room) while a retry round is
// delivering it: the round must not bring its description back.
func TestDropDuringRetry(t *testing.T) {
	dir := t.TempDir()
	k := &blockingSink{started: make(chan struct{}), release: make(chan struct{})}
	var dropped []string
	s, err := New(Config{Dir: dir, MaxBytes: 100 << 10, OnDropped: func(e Entry, _ int64) { dropped = append(dropped, e.ID) }},
		[]agent.Sink{k}, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Keeper().Deliver(context.Background(), sinktest.Capture("old", sinktest.Pcap(60<<10, 1)))
	if err != nil {
		t.Fatal(err)
	}
	round := make(chan int)
	go func() { round <- s.RetryAll(context.Background()) }()
	<-k.started // the round is delivering "old"
	if _, err := s.Keeper().Deliver(context.Background(), sinktest.Capture("new", sinktest.Pcap(60<<10, 2))); err != nil {
		t.Fatal(err)
	}
	close(k.release)
	if n := <-round; n != 0 {
		t.Errorf("round delivered %d", n)
	}
	if !slices.Equal(dropped, []string{"old"}) {
		t.Fatalf("dropped %v, want [old]", dropped)
	}
	if _, err := os.Stat(old + metaSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dropped entry's description is back after the round: %v", err)
	}
	if es, _ := s.Entries(); len(es) != 1 || es[0].ID != "new" {
		t.Errorf("entries %+v, want only new", es)
	}
}

// TestDeliveryPending spools a capture for two sinks and brings them back
// one at a time: each round that delivers reports the new location and
// what is still pending, and only the last one reports nothing pending.
func TestDeliveryPending(t *testing.T) {
	a, b := &fakeSink{name: "a", err: errDown}, &fakeSink{name: "b", err: errDown}
	var got []Delivery
	s, err := New(Config{Dir: t.TempDir(), OnDelivered: func(_ context.Context, d Delivery) { got = append(got, d) }},
		[]agent.Sink{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := sinktest.Capture("two", sinktest.Pcap(8<<10, 5))
	path, err := s.Keeper().Deliver(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.RetryAll(ctx)
	if len(got) != 0 {
		t.Fatalf("a round that delivered nothing reported %+v", got)
	}
	a.setErr(nil)
	s.RetryAll(ctx)
	b.setErr(nil)
	s.RetryAll(ctx)
	if len(got) != 2 {
		t.Fatalf("%d deliveries reported, want 2: %+v", len(got), got)
	}
	if got[0].Path != path || !slices.Equal(got[0].Locations, []string{"a://" + c.FileName}) ||
		len(got[0].Pending) != 1 || got[0].Pending["b"] != errDown.Error() {
		t.Errorf("first delivery %+v, want a's location and b pending (%v)", got[0], errDown)
	}
	if got[1].Path != path || !slices.Equal(got[1].Locations, []string{"b://" + c.FileName}) || len(got[1].Pending) != 0 {
		t.Errorf("second delivery %+v, want b's location, nothing pending", got[1])
	}
}
