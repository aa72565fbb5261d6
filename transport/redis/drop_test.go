package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// resultsOn subscribes to channel and returns the results published there.
func resultsOn(tb testing.TB, o Options, channel string) <-chan agent.Result {
	tb.Helper()
	cl, err := Dial(o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	out := make(chan agent.Result, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl.Subscribe(ctx, channel, func() { close(ready) }, func(m []byte) bool {
			var r agent.Result
			if err := json.Unmarshal(m, &r); err != nil {
				tb.Errorf("result %q: %v", m, err)
				return true
			}
			out <- r
			return true
		})
	}()
	tb.Cleanup(func() { cancel(); <-done; cl.Close() })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		tb.Fatalf("no subscription to %s within 10s", channel)
	}
	return out
}

// collect reads results until one with id last arrives (results of dropped
// messages are published in order) and returns them by id.
func collect(tb testing.TB, ch <-chan agent.Result, last string) map[string]agent.Result {
	tb.Helper()
	got := map[string]agent.Result{}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case r := <-ch:
			if _, dup := got[r.ID]; dup {
				tb.Errorf("two results for %s", r.ID)
			}
			got[r.ID] = r
			if r.ID == last {
				return got
			}
		case <-deadline:
			tb.Fatalf("no result for %s within 15s; got %v", last, keys(got))
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOversizeDropped publishes messages larger than MaxMessage: each is
// dropped as it arrives, never reaches the Submitter, and one that names
// an id in its first bytes and may be for this node gets a rejected result
// saying it is too large.
func TestOversizeDropped(t *testing.T) {
	srv := startServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture", MaxMessage: 1024, Node: func() string { return "cap1" }}
	sub := make(chanSubmitter, 16)
	tr, err := New(o, sub, nil)
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	results := resultsOn(t, o, "capture.results")

	big := strings.Repeat("x", 1<<20)
	req := func(fields string) string { return `{` + fields + `,"tags":"` + big + `"}` }
	tests := []struct {
		name   string
		msg    string
		answer string // the id of the rejected result, "" for none
	}{
		{name: "any node", msg: req(`"id":"big-any","node":"any"`), answer: "big-any"},
		{name: "this node", msg: req(`"id":"big-mine","node":"CAP1"`), answer: "big-mine"},
		{name: "nodere matching", msg: req(`"id":"big-re","nodere":"^cap[0-9]$"`), answer: "big-re"},
		{name: "no node", msg: req(`"id":"big-unplaced"`), answer: "big-unplaced"},
		{name: "signed", msg: string(transport.Sign([]byte("drop-test-key"), []byte(req(`"id":"big-signed","node":"any"`)), time.Now())),
			answer: "big-signed"},
		{name: "just over the limit", msg: `{"id":"big-edge","node":"any","tags":"` + strings.Repeat("y", 1024-38) + `"}`, answer: "big-edge"},
		{name: "other node", msg: req(`"id":"big-other","node":"cap2"`)},
		{name: "nodere not matching", msg: req(`"id":"big-re2","nodere":"^web"`)},
		{name: "id after the first bytes", msg: `{"node":"any","tags":"` + big + `","id":"big-late"}`},
		{name: "invalid id", msg: req(`"id":"not valid!","node":"any"`)},
		{name: "not json", msg: big},
	}
	want := map[string]bool{"big-marker": true}
	for _, tt := range tests {
		if len(tt.msg) <= o.MaxMessage {
			t.Fatalf("%s: message of %d bytes is not oversize", tt.name, len(tt.msg))
		}
		publish(t, o, "capture", tt.msg)
		if tt.answer != "" {
			want[tt.answer] = true
		}
	}
	publish(t, o, "capture", req(`"id":"big-marker","node":"any"`))
	got := collect(t, results, "big-marker")
	for id, r := range got {
		if !want[id] {
			t.Errorf("result for %s, which should get none: %+v", id, r)
			continue
		}
		if r.Status != agent.StatusRejected || r.Node != "cap1" ||
			!strings.Contains(r.Error, "too_large") || !strings.Contains(r.Error, "exceeds the limit of 1024 bytes") {
			t.Errorf("result %+v, want rejected by cap1 as too large, naming the limit", r)
		}
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("no rejected result for %s", id)
		}
	}
	if d, tl := tr.Dropped(), tr.DroppedTooLarge(); d != uint64(len(tests)+1) || tl != d {
		t.Errorf("Dropped() = %d, DroppedTooLarge() = %d, want %d", d, tl, len(tests)+1)
	}
	select {
	case s := <-sub:
		t.Fatalf("an oversize message reached the Submitter: %.80q", s.msg)
	default:
	}
	// A message within the limit still goes through.
	msg := `{"id":"small","node":"any"}`
	publish(t, o, "capture", msg)
	expect(t, sub, msg)
}

// padded returns a request with id of exactly size bytes.
func padded(id string, size int) string {
	head := `{"id":"` + id + `","node":"any","tags":"`
	return head + strings.Repeat("z", size-len(head)-2) + `"}`
}

// TestOverloadAnswered fills the queue behind a Submit that does not
// return: what does not fit, by count or by bytes, is dropped, and each
// dropped request gets a rejected result saying the agent is overloaded;
// the rest are submitted once the Submitter is free again.
func TestOverloadAnswered(t *testing.T) {
	tests := []struct {
		name     string
		o        Options
		size     int
		min, max uint64 // dropped, depending on whether the worker took the first one before the second arrived
	}{
		{name: "by count", o: Options{QueueSize: 2, Workers: 1}, size: 100, min: 7, max: 8},
		{name: "by bytes", o: Options{MaxMessage: 1024, QueueBytes: 3000, Workers: 1}, size: 1000, min: 6, max: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t)
			o := tt.o
			o.Addrs, o.Channel, o.Node = []string{srv.addr()}, "capture", func() string { return "cap1" }
			b := &blockingSubmitter{release: make(chan struct{}), got: make(chan string, 20)}
			tr, err := New(o, b, nil)
			if err != nil {
				t.Fatal(err)
			}
			running(t, tr)
			waitState(t, tr, StateUp)
			results := resultsOn(t, o, "capture.results")
			cl, err := Dial(o)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			const n = 10
			for i := range n {
				if _, err := cl.Publish(context.Background(), "capture", []byte(padded(fmt.Sprintf("m%d", i), tt.size))); err != nil {
					t.Fatal(err)
				}
			}
			if !testenv.WaitFor(10*time.Second, func() bool { return tr.Dropped() >= tt.min }) {
				t.Fatalf("dropped %d of %d, want at least %d", tr.Dropped(), n, tt.min)
			}
			// The last message cannot fit: its result is the last one.
			got := collect(t, results, fmt.Sprintf("m%d", n-1))
			close(b.release)
			d := tr.Dropped()
			if d < tt.min || d > tt.max || tr.DroppedTooLarge() != 0 {
				t.Fatalf("dropped %d (%d too large), want %d to %d", d, tr.DroppedTooLarge(), tt.min, tt.max)
			}
			if uint64(len(got)) != d {
				t.Errorf("%d rejected results for %d dropped messages: %v", len(got), d, keys(got))
			}
			for _, r := range got {
				if r.Status != agent.StatusRejected || r.Node != "cap1" || !strings.Contains(r.Error, "overloaded") ||
					!strings.Contains(r.Error, "publish it again later") {
					t.Errorf("result %+v, want rejected as overloaded", r)
				}
			}
			for range uint64(n) - d {
				select {
				case m := <-b.got:
					var r struct{ ID string }
					json.Unmarshal([]byte(m), &r)
					if _, dropped := got[r.ID]; dropped {
						t.Errorf("%s was both dropped and submitted", r.ID)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("queued message not submitted after release")
				}
			}
		})
	}
}

// slowSubmitter holds every message containing "slow" until release is
// closed and passes the others on at once.
type slowSubmitter struct {
	release chan struct{}
	got     chan string
	mu      sync.Mutex
	held    int
}

func (s *slowSubmitter) Submit(ctx context.Context, msg []byte, _ string) (string, error) {
	if strings.Contains(string(msg), "slow") {
		s.mu.Lock()
		s.held++
		s.mu.Unlock()
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	s.got <- string(msg)
	return "", nil
}

func (s *slowSubmitter) holding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// TestSlowRequestsDoNotStall submits six requests that take long (their
// filters name hosts whose DNS does not answer) and then a normal one: the
// normal one is submitted at once, not after the slow ones.
func TestSlowRequestsDoNotStall(t *testing.T) {
	srv := startServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture"}
	s := &slowSubmitter{release: make(chan struct{}), got: make(chan string, 16)}
	tr, err := New(o, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	defer close(s.release)
	for i := range 6 {
		publish(t, o, "capture", fmt.Sprintf(`{"id":"slow%d","node":"any"}`, i))
	}
	start := time.Now()
	publish(t, o, "capture", `{"id":"normal","node":"any"}`)
	select {
	case m := <-s.got:
		if !strings.Contains(m, "normal") {
			t.Fatalf("submitted %q first", m)
		}
		t.Logf("normal request submitted %v after it was published, with %d slow ones in progress", time.Since(start).Round(time.Millisecond), s.holding())
	case <-time.After(5 * time.Second):
		t.Fatalf("normal request not submitted within 5s behind %d slow ones", s.holding())
	}
}
