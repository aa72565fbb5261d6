package spool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
)

// fakeSink records what it was given; it fails with err while err is set.
type fakeSink struct {
	name string
	mu   sync.Mutex
	err  error
	got  [][]byte
}

func (f *fakeSink) Name() string { return f.name }

func (f *fakeSink) Deliver(_ context.Context, c *agent.Capture) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	b, err := io.ReadAll(c.Data.NewReader())
	if err != nil {
		return "", err
	}
	f.got = append(f.got, b)
	return f.name + "://" + c.FileName, nil
}

func (f *fakeSink) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

type refused struct{}

func (refused) Error() string     { return "override refused" }
func (refused) Unretryable() bool { return true }

var errDown = errors.New("connection refused")

func TestDeliverAll(t *testing.T) {
	tests := []struct {
		name        string
		errs        []error // per sink a, b
		spool       bool
		wantLocs    int
		wantSpooled bool
		wantLost    bool
		wantEntries int
		wantPending []string
	}{
		{name: "all ok", errs: []error{nil, nil}, spool: true, wantLocs: 2},
		{name: "one fails, spool", errs: []error{errDown, nil}, spool: true, wantLocs: 1, wantEntries: 1, wantPending: []string{"a"}},
		{name: "one fails, no spool", errs: []error{errDown, nil}, wantLocs: 1},
		{name: "all fail, spool", errs: []error{errDown, errDown}, spool: true, wantSpooled: true, wantEntries: 1, wantPending: []string{"a", "b"}},
		{name: "all fail, no spool", errs: []error{errDown, errDown}, wantLost: true},
		{name: "all fail, one unretryable", errs: []error{refused{}, errDown}, spool: true, wantSpooled: true, wantEntries: 1, wantPending: []string{"b"}},
		{name: "all fail unretryable", errs: []error{refused{}, refused{}}, spool: true, wantLost: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := &fakeSink{name: "a", err: tt.errs[0]}, &fakeSink{name: "b", err: tt.errs[1]}
			cfg := Config{}
			if tt.spool {
				cfg.Dir = t.TempDir()
			}
			s, err := New(cfg, []agent.Sink{a, b}, nil)
			if err != nil {
				t.Fatal(err)
			}
			data := sinktest.Pcap(20<<10, uint64(i))
			c := sinktest.Capture("id"+string(rune('a'+i)), data)
			locs, err := s.DeliverAll(context.Background(), c)
			if len(locs) != tt.wantLocs {
				t.Errorf("locations %v, want %d", locs, tt.wantLocs)
			}
			var se *SpooledError
			var le *LostError
			if got := errors.As(err, &se); got != tt.wantSpooled {
				t.Errorf("err = %v; SpooledError %v, want %v", err, got, tt.wantSpooled)
			}
			if got := errors.As(err, &le); got != tt.wantLost {
				t.Errorf("err = %v; LostError %v, want %v", err, got, tt.wantLost)
			}
			if tt.wantLost {
				if !strings.Contains(err.Error(), c.FileName) || !strings.Contains(err.Error(), "bytes") || le.Bytes != int64(len(data)) {
					t.Errorf("lost error does not say what was lost: %v", err)
				}
				if !errors.Is(err, errDown) && tt.errs[0] == errDown {
					t.Errorf("lost error does not wrap the sink failure: %v", err)
				}
			}
			if tt.wantSpooled {
				got, rerr := os.ReadFile(se.Path)
				if rerr != nil || !bytes.Equal(got, data) {
					t.Errorf("spooled file %s: %v, equal=%v", se.Path, rerr, bytes.Equal(got, data))
				}
			}
			es, _ := s.Entries()
			if len(es) != tt.wantEntries {
				t.Fatalf("%d spool entries, want %d", len(es), tt.wantEntries)
			}
			if len(es) == 1 && strings.Join(es[0].Pending, ",") != strings.Join(tt.wantPending, ",") {
				t.Errorf("pending %v, want %v", es[0].Pending, tt.wantPending)
			}
			// Deliver joins the same locations.
			if tt.wantLocs == 2 {
				loc, _ := s.Deliver(context.Background(), c)
				if got := strings.Split(loc, "\n"); len(got) != 2 {
					t.Errorf("Deliver = %q, want two lines", loc)
				}
			}
		})
	}
}

func TestRetry(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	a := &fakeSink{name: "a", err: errDown}
	var delivered []Delivery
	cfg := Config{Dir: dir, Interval: time.Minute, MaxInterval: 4 * time.Minute, MaxAge: time.Hour, Now: clock,
		OnDelivered: func(_ context.Context, d Delivery) { delivered = append(delivered, d) }}
	s, err := New(cfg, []agent.Sink{a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := sinktest.Pcap(30<<10, 9)
	c := sinktest.Capture("r1", data)
	_, err = s.Deliver(context.Background(), c)
	var se *SpooledError
	if !errors.As(err, &se) {
		t.Fatalf("Deliver with a failing sink = %v, want a SpooledError", err)
	}
	ctx := context.Background()

	// Not due yet.
	if n := s.RetryDue(ctx); n != 0 {
		t.Fatalf("RetryDue before the interval delivered %d", n)
	}
	// Due, still failing: next try backs off (2 min, then 4, capped at 4).
	wantGaps := []time.Duration{2 * time.Minute, 4 * time.Minute, 4 * time.Minute}
	for _, gap := range wantGaps {
		es, _ := s.Entries()
		now = es[0].NextTry
		if n := s.RetryDue(ctx); n != 0 {
			t.Fatalf("delivered %d with a failing sink", n)
		}
		es, _ = s.Entries()
		if got := es[0].NextTry.Sub(now); got != gap {
			t.Errorf("next try after %v, want %v", got, gap)
		}
		if !strings.Contains(es[0].Errors["a"], "connection refused") {
			t.Errorf("entry errors %v", es[0].Errors)
		}
	}

	// A new Spool over the same directory (a restart) delivers it once the
	// sink is back.
	a.setErr(nil)
	s2, err := New(cfg, []agent.Sink{a}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := s2.RetryAll(ctx); n != 1 {
		t.Fatalf("RetryAll delivered %d, want 1", n)
	}
	if len(a.got) != 1 || !bytes.Equal(a.got[0], data) {
		t.Fatalf("sink got %d files, equal=%v", len(a.got), len(a.got) == 1 && bytes.Equal(a.got[0], data))
	}
	if len(delivered) != 1 {
		t.Fatalf("OnDelivered calls %+v, want 1", delivered)
	}
	d := delivered[0]
	if d.Capture.ID != "r1" || d.Path != se.Path || d.Bytes != int64(len(data)) || d.Capture.Data != nil ||
		!slices.Equal(d.Locations, []string{"a://" + c.FileName}) || len(d.Pending) != 0 {
		t.Errorf("OnDelivered(%+v), want r1 spooled at %s (%d bytes) delivered to a://%s, nothing pending",
			d, se.Path, len(data), c.FileName)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("spool not emptied: %v", left)
	}
}

func TestMaxAge(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1_700_000_000, 0)
	a := &fakeSink{name: "a", err: errDown}
	s, _ := New(Config{Dir: dir, MaxAge: time.Hour, Now: func() time.Time { return now }}, []agent.Sink{a}, nil)
	c := sinktest.Capture("old", sinktest.Pcap(1<<10, 1))
	s.Deliver(context.Background(), c)
	now = now.Add(2 * time.Hour)
	a.setErr(nil)
	if n := s.RetryAll(context.Background()); n != 0 || len(a.got) != 0 {
		t.Fatalf("an entry past maxage was retried")
	}
	if _, err := os.Stat(filepath.Join(dir, c.FileName+failedSuffix)); err != nil {
		t.Errorf("no .failed description: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, c.FileName)); err != nil {
		t.Errorf("capture file not kept: %v", err)
	}
	if es, _ := s.Entries(); len(es) != 0 {
		t.Errorf("entries %v after giving up", es)
	}
}

func TestNameCollision(t *testing.T) {
	dir := t.TempDir()
	a := &fakeSink{name: "a", err: errDown}
	s, _ := New(Config{Dir: dir}, []agent.Sink{a}, nil)
	c := sinktest.Capture("same", sinktest.Pcap(1<<10, 1))
	var paths []string
	for range 2 {
		_, err := s.Deliver(context.Background(), c)
		var se *SpooledError
		if !errors.As(err, &se) {
			t.Fatal(err)
		}
		paths = append(paths, se.Path)
	}
	if paths[0] == paths[1] {
		t.Errorf("second capture overwrote the first: %v", paths)
	}
}

// TestRunStops cancels Run once it has made its first round (it delivers
// a capture spooled before it started): Run returns the context's error.
func TestRunStops(t *testing.T) {
	a := &fakeSink{name: "a", err: errDown}
	delivered := make(chan Delivery, 1)
	s, _ := New(Config{Dir: t.TempDir(), Interval: 10 * time.Millisecond,
		OnDelivered: func(_ context.Context, d Delivery) { delivered <- d }}, []agent.Sink{a}, nil)
	if _, err := s.Deliver(context.Background(), sinktest.Capture("run", sinktest.Pcap(1<<10, 3))); err == nil {
		t.Fatal("Deliver succeeded with a failing sink")
	}
	a.setErr(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-delivered:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not deliver the spooled capture")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestNewErrors(t *testing.T) {
	a := &fakeSink{name: "a"}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("New without sinks succeeded")
	}
	if _, err := New(Config{}, []agent.Sink{a, a}, nil); err == nil {
		t.Error("New with duplicate names succeeded")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(ro, 0o500)
	if os.Geteuid() != 0 {
		if _, err := New(Config{Dir: ro}, []agent.Sink{a}, nil); err == nil {
			t.Error("New with a read-only spool succeeded")
		}
	}
	if _, err := New(Config{Dir: "/proc/nonexistent/spool"}, []agent.Sink{a}, nil); err == nil {
		t.Error("New with an impossible directory succeeded")
	}
}

func TestKeeper(t *testing.T) {
	a, b := &fakeSink{name: "a", err: errDown}, &fakeSink{name: "b", err: errDown}
	s, err := New(Config{Dir: t.TempDir()}, []agent.Sink{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := s.Keeper()
	if k.Name() != "spool" {
		t.Errorf("Name = %q", k.Name())
	}
	data := sinktest.Pcap(10<<10, 4)
	c := sinktest.Capture("kept", data)
	path, err := k.Deliver(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, data) {
		t.Fatalf("spooled file %s differs", path)
	}
	es, _ := s.Entries()
	if len(es) != 1 || strings.Join(es[0].Pending, ",") != "a,b" {
		t.Fatalf("entries %+v, want one owed to a and b", es)
	}
	a.setErr(nil)
	if n := s.RetryAll(context.Background()); n != 0 {
		t.Fatalf("entry done with b still failing")
	}
	b.setErr(nil)
	if n := s.RetryAll(context.Background()); n != 1 {
		t.Fatalf("entry not done once both sinks work")
	}
	if len(a.got) != 1 || len(b.got) != 1 {
		t.Errorf("a got %d, b got %d files, want 1 each (a not sent twice)", len(a.got), len(b.got))
	}

	none, _ := New(Config{}, []agent.Sink{a}, nil)
	if _, err := none.Keeper().Deliver(context.Background(), c); !errors.Is(err, ErrNoSpool) {
		t.Errorf("Keeper without a directory = %v, want ErrNoSpool", err)
	}
}
