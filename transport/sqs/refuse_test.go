package sqs

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/transport"
)

// TestGuardRefusedDeleted puts messages the Guard refuses on a queue in
// front of a Guard with a key: each is deleted and counted, so that it
// does not come back until its retention ends; the agent never sees it.
func TestGuardRefusedDeleted(t *testing.T) {
	g := startGoaws(t, 2)
	const vis = 2 // seconds: a message not deleted comes back this soon
	key := []byte("sqs-refuse-test-key")
	now := time.Now()
	body := func(id string) string { return `{"id":"` + id + `","node":"any"}` }
	tests := []struct {
		name string
		// msgs are sent in order, each after the previous one was handled.
		msgs        []string
		wantAgent   int // messages that reach the agent
		wantRefused uint64
		reason      transport.Reason
	}{
		{name: "unsigned", msgs: []string{body("u")}, wantRefused: 1, reason: transport.ReasonUnsigned},
		{name: "bad signature", msgs: []string{string(transport.Sign([]byte("another key"), []byte(body("b")), now))},
			wantRefused: 1, reason: transport.ReasonBadSignature},
		{name: "stale", msgs: []string{string(transport.Sign(key, []byte(body("s")), now.Add(-time.Hour)))},
			wantRefused: 1, reason: transport.ReasonStale},
		{name: "too large", msgs: []string{string(transport.Sign(key, []byte(body(strings.Repeat("x", 2000))), now))},
			wantRefused: 1, reason: transport.ReasonTooLarge},
		{name: "replayed", msgs: []string{string(transport.Sign(key, []byte(body("r")), now)), string(transport.Sign(key, []byte(body("r")), now))},
			wantAgent: 1, wantRefused: 1, reason: transport.ReasonReplay},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // separate queues; each waits out a visibility timeout
			qurl := g.createQueue(t, "refuse"+string(rune('a'+i)), vis)
			agentSide := newSubmitter(accept)
			guard := transport.NewGuard(transport.GuardOptions{MaxMessage: 1024, HMACKey: key}, agentSide)
			var logs logBuf
			q := newQueue(t, g, Config{QueueURL: qurl}, guard, slog.New(slog.NewTextHandler(&logs, nil)))
			runQueue(t, q)
			for n, m := range tt.msgs {
				g.send(t, qurl, m)
				eventually(t, 10*time.Second, "message handled", func() bool {
					return guardRejected(guard)+agentCalls(agentSide) >= n+1
				})
			}
			// Past the visibility timeout (and goaws's 1s sweep), a message
			// not deleted would be handled again.
			time.Sleep((vis + 1) * time.Second)
			if got := q.Refused(); got != tt.wantRefused {
				t.Errorf("Refused() = %d, want %d", got, tt.wantRefused)
			}
			if got := agentCalls(agentSide); got != tt.wantAgent {
				t.Errorf("%d messages reached the agent, want %d", got, tt.wantAgent)
			}
			if got := guard.Rejected()[tt.reason.String()]; got != 1 {
				t.Errorf("Guard rejected %d as %s, want 1 (rejections %v)", got, tt.reason, guard.Rejected())
			}
			if n := logs.count("request refused; message deleted"); n != int(tt.wantRefused) {
				t.Errorf("%d refusal log lines, want %d", n, tt.wantRefused)
			}
			if left := g.receiveAll(t, qurl); len(left) != 0 {
				t.Errorf("refused message still on the queue: %v", left)
			}
		})
	}
}

// TestGuardReplaySharedReleased sends an envelope twice to a shared queue:
// the replay may be another node's request this agent released before, so
// it is released, not deleted, until it turns stale; then it is deleted.
func TestGuardReplaySharedReleased(t *testing.T) {
	g := startGoaws(t, 60)
	qurl := g.createQueue(t, "refuse-shared", 60)
	key := []byte("sqs-refuse-test-key")
	const skew = 2 * time.Second
	agentSide := newSubmitter(accept)
	guard := transport.NewGuard(transport.GuardOptions{HMACKey: key, MaxSkew: skew}, agentSide)
	var logs logBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q := newQueue(t, g, Config{QueueURL: qurl, Shared: true, ChunkSize: 1}, guard, log)
	env := string(transport.Sign(key, []byte(`{"id":"twice","node":"any"}`), time.Now()))
	g.send(t, qurl, env)
	g.send(t, qurl, env)
	runQueue(t, q)
	// With a visibility timeout of 60s, the replay comes back within the
	// skew only if it was released; once stale it is deleted.
	eventually(t, 15*time.Second, "the replay refused as stale and deleted", func() bool { return q.Refused() == 1 })
	if n := logs.count("replayed envelope on a shared queue released"); n == 0 {
		t.Error("the replay was not released while it was within the window")
	}
	if got := guard.Rejected()[transport.ReasonStale.String()]; got != 1 {
		t.Errorf("Guard rejections %v, want one stale", guard.Rejected())
	}
	if got := agentCalls(agentSide); got != 1 {
		t.Errorf("%d copies reached the agent, want 1", got)
	}
	if left := g.receiveAll(t, qurl); len(left) != 0 {
		t.Errorf("left on the queue: %v", left)
	}
}

// guardRejected returns how many messages g rejected, for every reason.
func guardRejected(g *transport.Guard) int {
	n := uint64(0)
	for _, c := range g.Rejected() {
		n += c
	}
	return int(n)
}

// agentCalls returns how many messages reached s.
func agentCalls(s *submitter) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}
