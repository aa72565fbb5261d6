package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// submission is one message that reached the Submitter.
type submission struct {
	msg    string
	source string
}

// chanSubmitter sends every submission on a channel.
type chanSubmitter chan submission

func (c chanSubmitter) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	select {
	case c <- submission{string(msg), source}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return "id-" + string(msg), nil
}

// running starts t.Run and returns a function that stops it and returns
// Run's error.
func running(tb testing.TB, tr *Transport) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	var once bool
	var err error
	stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				tb.Fatal("Run did not return within 10s of cancel")
			}
		}
		return err
	}
	tb.Cleanup(func() { stop() })
	return stop
}

// waitState waits until tr reports state.
func waitState(tb testing.TB, tr *Transport, state string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tr.State() != state {
		if time.Now().After(deadline) {
			tb.Fatalf("transport state %q after 10s, want %q", tr.State(), state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// expect waits for the next submission and checks it.
func expect(tb testing.TB, c chanSubmitter, msg string) {
	tb.Helper()
	select {
	case s := <-c:
		if s.msg != msg || s.source != "redis" {
			tb.Fatalf("submitted %q from %q, want %q from redis", s.msg, s.source, msg)
		}
	case <-time.After(10 * time.Second):
		tb.Fatalf("message %q not submitted within 10s", msg)
	}
}

// publish publishes msg and requires exactly one receiver.
func publish(tb testing.TB, o Options, channel, msg string) {
	tb.Helper()
	cl, err := Dial(o)
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	defer cl.Close()
	n, err := cl.Publish(context.Background(), channel, []byte(msg))
	if err != nil || n != 1 {
		tb.Fatalf("PUBLISH %s: %d receivers, %v; want 1", channel, n, err)
	}
}

func testLogger(w *testenv.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestSubscribeSubmitAndResults(t *testing.T) {
	srv := startServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture"}
	sub := make(chanSubmitter, 4)
	tr, err := New(o, sub, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, tr)
	waitState(t, tr, StateUp)

	msg := `{"node":"any","interface":["lo"],"packets":5}`
	publish(t, o, "capture", msg)
	expect(t, sub, msg)

	// Results arrive as JSON on capture.results.
	cl, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ready := make(chan struct{})
	got := make(chan []byte, 1)
	go cl.Subscribe(context.Background(), "capture.results", func() { close(ready) }, func(m []byte) bool {
		got <- m
		return false
	})
	<-ready
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := agent.Result{ID: "r1", Node: "h1", Interface: "lo", Status: agent.StatusOK, StopReason: agent.StopPackets,
		Packets: 5, Bytes: 420, Started: start, Ended: start.Add(time.Second), Locations: []string{"/tmp/x.pcap"}}
	if err := tr.PublishResult(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		var r agent.Result
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("result %q: %v", b, err)
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("result\n got %+v\nwant %+v", r, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result event on capture.results")
	}
	if err := stop(); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	if err := tr.PublishResult(context.Background(), want); !errors.Is(err, ErrNotConnected) {
		t.Errorf("PublishResult after Run ended = %v, want ErrNotConnected", err)
	}
}

func TestAuth(t *testing.T) {
	pwServer := startServer(t, "requirepass s3cret")
	aclServer := startServer(t, "user default off", "user agent on >agentpw ~* &* +@all")
	tests := []struct {
		name           string
		srv            *server
		user, password string
		wantErr        string // "" = works
	}{
		{name: "password", srv: pwServer, password: "s3cret"},
		{name: "wrong password", srv: pwServer, password: "wrong", wantErr: "WRONGPASS"},
		{name: "no password", srv: pwServer, wantErr: "none is configured"},
		{name: "acl user", srv: aclServer, user: "agent", password: "agentpw"},
		{name: "acl user wrong password", srv: aclServer, user: "agent", password: "nope", wantErr: `user "agent"`},
		{name: "acl unknown user", srv: aclServer, user: "ghost", password: "agentpw", wantErr: "WRONGPASS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Addrs: []string{tt.srv.addr()}, Channel: "capture", Username: tt.user, Password: tt.password}
			var logs testenv.SyncBuffer
			sub := make(chanSubmitter, 1)
			tr, err := New(o, sub, testLogger(&logs))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- tr.Run(ctx) }()
			if tt.wantErr != "" {
				err := <-done
				if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.srv.addr()) {
					t.Fatalf("Run = %v, want ErrAuth naming the server and %q", err, tt.wantErr)
				}
				if tr.State() != StateAuth {
					t.Errorf("State() = %q, want %q", tr.State(), StateAuth)
				}
				_, derr := Dial(o)
				if !errors.Is(derr, ErrAuth) {
					t.Errorf("Dial = %v, want ErrAuth", derr)
				}
				// The password is a secret: the errors and the log name
				// the user and the server, never the password.
				if tt.password != "" {
					for what, text := range map[string]string{"Run's error": err.Error(), "Dial's error": derr.Error(), "log": logs.String()} {
						if strings.Contains(text, tt.password) {
							t.Errorf("%s shows the password: %s", what, text)
						}
					}
				}
				return
			}
			waitState(t, tr, StateUp)
			publish(t, o, "capture", `{"node":"any"}`)
			expect(t, sub, `{"node":"any"}`)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
}

// TestResubscribeAfterRestart kills redis-server under a subscribed
// Transport and starts it again: the Transport must resubscribe by itself,
// log the loss and the recovery once each, and deliver the next request.
func TestResubscribeAfterRestart(t *testing.T) {
	srv := startServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture", MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	logs := new(testenv.SyncBuffer)
	sub := make(chanSubmitter, 4)
	tr, err := New(o, sub, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	publish(t, o, "capture", "one")
	expect(t, sub, "one")

	srv.kill()
	waitState(t, tr, StateDown)
	// Several reconnect attempts fail meanwhile.
	attempts, reopen := deadPort(t, srv.addr())
	if !testenv.WaitFor(10*time.Second, func() bool { return attempts() >= 3 }) {
		t.Fatalf("%d reconnect attempts within 10s, want 3", attempts())
	}
	if err := tr.PublishResult(context.Background(), agent.Result{ID: "lost"}); err == nil {
		t.Error("PublishResult with the server down succeeded")
	}
	// A result finished during the outage is published once it is over.
	pubCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pubErr := make(chan error, 1)
	go func() { pubErr <- tr.PublishResult(pubCtx, agent.Result{ID: "during"}) }()
	// Not a synchronisation: it lets the publish above run into the
	// outage (it passes either way; PublishResult's retries are not
	// observable from here).
	time.Sleep(200 * time.Millisecond)
	reopen()
	restarted := time.Now()
	srv.start()
	waitState(t, tr, StateUp)
	t.Logf("resubscribed %v after the server came back", time.Since(restarted).Round(time.Millisecond))
	publish(t, o, "capture", "two")
	expect(t, sub, "two")
	if err := <-pubErr; err != nil {
		t.Errorf("PublishResult during the outage: %v", err)
	}
	if err := tr.PublishResult(context.Background(), agent.Result{ID: "after"}); err != nil {
		t.Errorf("PublishResult after the restart: %v", err)
	}

	l := logs.String()
	if n := strings.Count(l, "connection lost"); n != 1 {
		t.Errorf("%d \"connection lost\" lines, want 1:\n%s", n, l)
	}
	if n := strings.Count(l, "msg=\"redis: subscribed\""); n != 2 {
		t.Errorf("%d \"subscribed\" lines, want 2:\n%s", n, l)
	}
}

// TestDownAtStart starts the Transport before the server exists.
func TestDownAtStart(t *testing.T) {
	srv := newServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture", MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	logs := new(testenv.SyncBuffer)
	sub := make(chanSubmitter, 4)
	tr, err := New(o, sub, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateDown)
	// Several attempts fail before the server starts.
	attempts, reopen := deadPort(t, srv.addr())
	if !testenv.WaitFor(10*time.Second, func() bool { return attempts() >= 3 }) {
		t.Fatalf("%d connection attempts within 10s, want 3", attempts())
	}
	reopen()
	srv.start()
	waitState(t, tr, StateUp)
	publish(t, o, "capture", "hello")
	expect(t, sub, "hello")
	if n := strings.Count(logs.String(), "server unreachable"); n != 1 {
		t.Errorf("%d \"unreachable\" lines, want 1:\n%s", n, logs.String())
	}
}

// blockingSubmitter blocks every Submit until release is closed.
type blockingSubmitter struct {
	release chan struct{}
	got     chan string
}

func (b *blockingSubmitter) Submit(ctx context.Context, msg []byte, _ string) (string, error) {
	<-b.release
	b.got <- string(msg)
	return "", nil
}

func TestQueueFullDrops(t *testing.T) {
	srv := startServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture", QueueSize: 2, Workers: 1}
	b := &blockingSubmitter{release: make(chan struct{}), got: make(chan string, 20)}
	tr, err := New(o, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	cl, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 10 {
		if _, err := cl.Publish(context.Background(), "capture", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for tr.Dropped() < 7 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(b.release)
	d := tr.Dropped()
	if d < 7 || d > 8 {
		t.Fatalf("dropped %d of 10 with one Submit blocked and a queue of 2, want 7 or 8", d)
	}
	for range 10 - d {
		select {
		case <-b.got:
		case <-time.After(5 * time.Second):
			t.Fatal("queued message not submitted after release")
		}
	}
}

// TestGuardInFront checks the wiring main uses: a Guard with a key between
// the Transport and the agent lets only signed requests through.
func TestGuardInFront(t *testing.T) {
	srv := startServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture"}
	key := []byte("0123456789abcdef")
	sub := make(chanSubmitter, 4)
	g := transport.NewGuard(transport.GuardOptions{HMACKey: key, MaxMessage: 1024}, sub)
	tr, err := New(o, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	publish(t, o, "capture", `{"node":"any","id":"unsigned"}`)
	body := `{"node":"any","id":"signed"}`
	publish(t, o, "capture", string(transport.Sign(key, []byte(body), time.Now())))
	expect(t, sub, body)
	if n := g.Rejected()["unsigned"]; n != 1 {
		t.Errorf("Rejected()[unsigned] = %d, want 1", n)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{Channel: "c"},
		{Addrs: []string{"x:1"}},
		{Addrs: []string{"x:1"}, Channel: "c", ResultsChannel: "c"},
		{Addrs: []string{"x:1"}, Channel: "c", Mode: "sentinel"},
		{Addrs: []string{"x:1"}, Channel: "c", Mode: "ring"},
		{Addrs: []string{"x:1"}, Channel: "c", MaxMessage: 1024, QueueBytes: 1000},
	} {
		if _, err := New(o, nil, nil); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func BenchmarkPublishResult(b *testing.B) {
	srv := startServer(b)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture"}
	tr, err := New(o, make(chanSubmitter), nil)
	if err != nil {
		b.Fatal(err)
	}
	running(b, tr)
	waitState(b, tr, StateUp)
	r := agent.Result{ID: "r1", Node: "h1", Interface: "eth0", Status: agent.StatusOK, Packets: 100, Locations: []string{"/x"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.PublishResult(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
}

func resultFor(id string) agent.Result {
	return agent.Result{ID: id, Node: "h1", Status: agent.StatusOK, Locations: []string{}}
}
