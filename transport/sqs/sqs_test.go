package sqs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
)

var (
	errInvalid = errors.New("invalid request: unknown field")
	errForeign = errors.New("request is for another node")
	errBusy    = errors.New("admission: too many captures")
)

// submitter is the agent's side of the transport in these tests: decide
// says what Submit returns for a body's n-th delivery (from 1).
type submitter struct {
	mu      sync.Mutex
	calls   map[string]int
	sources map[string]bool
	active  int
	peak    int
	decide  func(body string, n int) error
	hold    chan struct{} // when set, Submit waits on it
}

func newSubmitter(decide func(string, int) error) *submitter {
	return &submitter{calls: map[string]int{}, sources: map[string]bool{}, decide: decide}
}

func (s *submitter) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	s.mu.Lock()
	s.calls[string(msg)]++
	n := s.calls[string(msg)]
	s.sources[source] = true
	s.active++
	s.peak = max(s.peak, s.active)
	hold := s.hold
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.active--; s.mu.Unlock() }()
	if hold != nil {
		<-hold
	}
	if err := s.decide(string(msg), n); err != nil {
		return "", err
	}
	return "id-" + string(msg), nil
}

func (s *submitter) count(body string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[body]
}

func accept(string, int) error { return nil }

// logBuf is a concurrency-safe log sink for counting log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runQueue starts q.Run and returns a stop function that cancels it and
// waits for it to return.
func runQueue(t *testing.T, q *Queue) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// testSecretKey is the secret access key of the tests' queues (goaws
// ignores credentials); no log line may show it.
const testSecretKey = "sqs-secret-key-of-the-tests"

func newQueue(t *testing.T, g *goaws, cfg Config, sub Submitter, log *slog.Logger) *Queue {
	t.Helper()
	cfg.Endpoint = g.Endpoint
	cfg.Protocol = "query"
	cfg.AccessID, cfg.AccessKey = "test", testSecretKey
	cfg.IsPermanent = func(err error) bool { return errors.Is(err, errInvalid) }
	cfg.IsForeign = func(err error) bool { return errors.Is(err, errForeign) }
	if cfg.WaitSeconds == 0 {
		cfg.WaitSeconds = 1
	}
	q, err := New(context.Background(), cfg, sub, log)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestSettle runs the transport against goaws and checks how each message
// is settled: deleted, left for redelivery, or released.
func TestSettle(t *testing.T) {
	g := startGoaws(t, 2)
	const vis = 2 // seconds: a message not deleted comes back this soon

	tests := []struct {
		name      string
		shared    bool
		decide    func(string, int) error
		wantCalls int  // Submit calls for the message
		wantGone  bool // not on the queue any more after the visibility timeout
	}{
		{name: "accepted is deleted", decide: accept, wantCalls: 1, wantGone: true},
		{name: "invalid is deleted", decide: func(string, int) error { return errInvalid }, wantCalls: 1, wantGone: true},
		{name: "transient is delivered again", decide: func(_ string, n int) error {
			if n == 1 {
				return errBusy
			}
			return nil
		}, wantCalls: 2, wantGone: true},
		{name: "foreign on a private queue is deleted", decide: func(string, int) error { return errForeign }, wantCalls: 1, wantGone: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // separate queues; each waits out a visibility timeout
			qurl := g.createQueue(t, "settle"+string(rune('a'+i)), vis)
			sub := newSubmitter(tt.decide)
			q := newQueue(t, g, Config{QueueURL: qurl, Shared: tt.shared}, sub, nil)
			body := `{"id":"m` + string(rune('a'+i)) + `","node":"any"}`
			g.send(t, qurl, body)
			stop := runQueue(t, q)
			eventually(t, 10*time.Second, "submit calls", func() bool { return sub.count(body) >= tt.wantCalls })
			// Past the visibility timeout (and goaws's 1s sweep), a message
			// not deleted would be submitted again.
			time.Sleep((vis + 1) * time.Second)
			stop()
			if n := sub.count(body); n != tt.wantCalls {
				t.Errorf("Submit called %d times, want %d", n, tt.wantCalls)
			}
			if !sub.sources[Source] || len(sub.sources) != 1 {
				t.Errorf("sources %v, want only %q", sub.sources, Source)
			}
			left := g.receiveAll(t, qurl)
			if tt.wantGone && len(left) != 0 {
				t.Errorf("message still on the queue: %v", left)
			}
		})
	}

	t.Run("foreign on a shared queue is released", func(t *testing.T) {
		// A long visibility timeout: the message is visible at once only
		// if the agent released it.
		qurl := g.createQueue(t, "shared", 60)
		released := make(chan struct{})
		var once sync.Once
		sub := newSubmitter(func(string, int) error { once.Do(func() { close(released) }); return errForeign })
		q := newQueue(t, g, Config{QueueURL: qurl, Shared: true, ChunkSize: 1}, sub, nil)
		g.send(t, qurl, `{"id":"other","node":"elsewhere"}`)
		stop := runQueue(t, q)
		<-released
		stop() // let the release finish, and stop receiving it again
		if left := g.receiveAll(t, qurl); len(left) != 1 {
			t.Fatalf("after release, %d messages visible, want 1 (another agent's request)", len(left))
		}
	})

	t.Run("transient kept while the agent is down", func(t *testing.T) {
		t.Parallel()
		qurl := g.createQueue(t, "shutdown", vis)
		sub := newSubmitter(func(string, int) error { return context.Canceled })
		q := newQueue(t, g, Config{QueueURL: qurl}, sub, nil)
		g.send(t, qurl, "kept")
		stop := runQueue(t, q)
		eventually(t, 10*time.Second, "submit", func() bool { return sub.count("kept") == 1 })
		stop()
		time.Sleep((vis + 1) * time.Second)
		if left := g.receiveAll(t, qurl); len(left) != 1 || left[0] != "kept" {
			t.Fatalf("queue holds %v, want the message not taken", left)
		}
	})

	t.Run("bounded concurrency and chunking", func(t *testing.T) {
		qurl := g.createQueue(t, "conc", 30)
		sub := newSubmitter(accept)
		sub.hold = make(chan struct{})
		q := newQueue(t, g, Config{QueueURL: qurl, ChunkSize: 10, Concurrency: 2}, sub, nil)
		const n = 7
		for i := range n {
			g.send(t, qurl, "c"+string(rune('0'+i)))
		}
		stop := runQueue(t, q)
		eventually(t, 10*time.Second, "two submits in flight", func() bool {
			sub.mu.Lock()
			defer sub.mu.Unlock()
			return sub.active == 2
		})
		time.Sleep(300 * time.Millisecond) // would a third start?
		close(sub.hold)
		eventually(t, 15*time.Second, "every message submitted", func() bool {
			sub.mu.Lock()
			defer sub.mu.Unlock()
			return len(sub.calls) == n
		})
		stop()
		if sub.peak != 2 {
			t.Errorf("peak concurrency %d, want 2", sub.peak)
		}
		if left := g.receiveAll(t, qurl); len(left) != 0 {
			t.Errorf("left on the queue: %v", left)
		}
	})

	t.Run("run stops during a long poll and finishes in-flight work", func(t *testing.T) {
		qurl := g.createQueue(t, "stop", 30)
		started := make(chan struct{})
		sub := newSubmitter(func(string, int) error { close(started); time.Sleep(300 * time.Millisecond); return nil })
		q := newQueue(t, g, Config{QueueURL: qurl, WaitSeconds: 20}, sub, nil)
		g.send(t, qurl, "inflight")
		stop := runQueue(t, q)
		<-started
		t0 := time.Now()
		stop()
		if d := time.Since(t0); d > 3*time.Second || d < 200*time.Millisecond {
			t.Errorf("Run returned after %v: want it to wait for the 300ms submit, not for the 20s poll", d)
		}
		if got := sub.count("inflight"); got != 1 {
			t.Errorf("Submit called %d times", got)
		}
	})

	t.Run("result queue", func(t *testing.T) {
		qurl := g.createQueue(t, "req2", 30)
		rurl := g.createQueue(t, "results", 30)
		q := newQueue(t, g, Config{QueueURL: qurl, ResultsURL: rurl}, newSubmitter(accept), nil)
		want := agent.Result{ID: "r-1", Node: "host1", Interface: "eth0", Status: agent.StatusOK, StopReason: agent.StopPackets,
			Packets: 10, Bytes: 1000, Started: time.Unix(1700000000, 0).UTC(), Ended: time.Unix(1700000010, 0).UTC(),
			Locations: []string{"s3://captures/pcaps/x.pcap"}}
		if err := q.PublishResult(context.Background(), want); err != nil {
			t.Fatal(err)
		}
		msgs := g.receiveAll(t, rurl)
		if len(msgs) != 1 {
			t.Fatalf("%d messages on the result queue", len(msgs))
		}
		var got agent.Result
		if err := json.Unmarshal([]byte(msgs[0]), &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.Status != want.Status || !got.Started.Equal(want.Started) ||
			len(got.Locations) != 1 || got.Locations[0] != want.Locations[0] || got.Packets != 10 {
			t.Errorf("result %+v, want %+v", got, want)
		}
		// Without a result queue: a no-op.
		q2 := newQueue(t, g, Config{QueueURL: qurl}, newSubmitter(accept), nil)
		if err := q2.PublishResult(context.Background(), want); err != nil {
			t.Errorf("PublishResult without resultsurl = %v", err)
		}
	})
}

// TestReceiveOutage stops the server under a running transport and starts
// it again: the failure and the recovery are each logged once, and
// messages flow again.
func TestReceiveOutage(t *testing.T) {
	g := startGoaws(t, 30)
	qurl := g.createQueue(t, "outage", 30)
	var logs logBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sub := newSubmitter(accept)
	q := newQueue(t, g, Config{QueueURL: qurl, Backoff: retry.Policy{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}}, sub, log)
	g.stop()
	runQueue(t, q)
	eventually(t, 10*time.Second, "failure log", func() bool { return logs.count("cannot receive from queue") == 1 })
	time.Sleep(time.Second) // several more failed receives
	if n := logs.count("cannot receive from queue"); n != 1 {
		t.Errorf("failure logged %d times, want once", n)
	}
	g.start(t)
	g.createQueue(t, "outage", 30) // goaws keeps queues in memory
	eventually(t, 10*time.Second, "recovery log", func() bool { return logs.count("queue reachable again") == 1 })
	g.send(t, qurl, "after")
	eventually(t, 10*time.Second, "message after recovery", func() bool { return sub.count("after") == 1 })
	if n := logs.count("queue reachable again"); n != 1 {
		t.Errorf("recovery logged %d times", n)
	}
	if n := logs.count(testSecretKey); n != 0 {
		t.Errorf("the secret access key is in %d log lines", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(Config) bool
	}{
		{name: "defaults", cfg: Config{QueueURL: "https://sqs.eu-west-1.amazonaws.com/1/q"},
			check: func(c Config) bool {
				return c.Region == "eu-west-1" && c.WaitSeconds == 20 && c.ChunkSize == 10 && c.Concurrency == 10 && c.Protocol == "json"
			}},
		{name: "chunk capped at 10", cfg: Config{QueueURL: "http://h/1/q", ChunkSize: 50, Concurrency: 3},
			check: func(c Config) bool { return c.ChunkSize == 10 && c.Concurrency == 3 }},
		{name: "no url", cfg: Config{}, wantErr: "required"},
		{name: "bad url", cfg: Config{QueueURL: "sqs://q"}, wantErr: `sqs: url: "sqs://q": must be an http:// or https:// URL with a host`},
		{name: "bad protocol", cfg: Config{QueueURL: "http://h/1/q", Protocol: "xml"}, wantErr: "protocol"},
		{name: "bad wait", cfg: Config{QueueURL: "http://h/1/q", WaitSeconds: 21}, wantErr: "waitseconds"},
		{name: "half credentials", cfg: Config{QueueURL: "http://h/1/q", AccessKey: "k"}, wantErr: "together"},
		{name: "bad results url", cfg: Config{QueueURL: "http://h/1/q", ResultsURL: "nope"}, wantErr: "resultsurl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("validate = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(tt.cfg) {
				t.Fatalf("validate = %v, cfg %+v", err, tt.cfg)
			}
		})
	}
}

func TestRegionFromURL(t *testing.T) {
	tests := map[string]string{
		"https://sqs.us-east-1.amazonaws.com/123/q":     "us-east-1",
		"https://sqs.cn-north-1.amazonaws.com.cn/123/q": "cn-north-1",
		"http://198.19.0.2:4100/100010001000/q":         "",
		"https://example.amazone.com/asdfasdf/myqueue":  "",
		"https://sqs.a.b.amazonaws.com/1/q":             "",
		"::":                                            "",
	}
	for in, want := range tests {
		if got := regionFromURL(in); got != want {
			t.Errorf("regionFromURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRegionFromURL(f *testing.F) {
	f.Add("https://sqs.us-east-1.amazonaws.com/123/q")
	f.Add("http://[::1]:80/x")
	f.Fuzz(func(t *testing.T, s string) {
		r := regionFromURL(s)
		if strings.ContainsAny(r, "./:") {
			t.Fatalf("regionFromURL(%q) = %q", s, r)
		}
	})
}
