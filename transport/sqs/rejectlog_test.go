package sqs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// TestRejectionsLoggedOnce runs the default classification against goaws:
// a request the agent rejected (and logged) is deleted without another line
// at Info or above; a message the Guard rejected, which the agent never saw,
// is deleted and logged here, once — not delivered and logged again.
func TestRejectionsLoggedOnce(t *testing.T) {
	g := startGoaws(t, 1)
	qurl := g.createQueue(t, "rejections", 1) // a message not deleted is back within a second or two
	sub := newSubmitter(func(body string, _ int) error {
		switch body {
		case "agent-rejects":
			return &agent.ValidationError{Field: "acl", Reason: "not in allowacls"}
		case "guard-rejects":
			return &transport.RejectError{Reason: transport.ReasonUnsigned, Source: Source, Detail: "signing is required"}
		}
		return nil
	})
	var logs logBuf
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	q, err := New(context.Background(), Config{
		QueueURL: qurl, Endpoint: g.Endpoint, Protocol: "query", AccessID: "test", AccessKey: "test", WaitSeconds: 1,
	}, sub, log)
	if err != nil {
		t.Fatal(err)
	}
	g.send(t, qurl, "agent-rejects")
	g.send(t, qurl, "guard-rejects")
	stop := runQueue(t, q)
	eventually(t, 15*time.Second, "both messages submitted and deleted", func() bool {
		return sub.count("agent-rejects") >= 1 && sub.count("guard-rejects") >= 1 && g.Pending(t, qurl) == 0
	})
	stop()
	for _, body := range []string{"agent-rejects", "guard-rejects"} {
		if n := sub.count(body); n != 1 {
			t.Errorf("%s submitted %d times, want once (deleted, not delivered again)", body, n)
		}
	}
	if n := logs.count("level="); n != 1 || logs.count("level=WARN") != 1 || logs.count("signing is required") != 1 {
		logs.mu.Lock()
		t.Errorf("%d lines logged, want one WARN for the Guard's rejection:\n%s", n, logs.b.String())
		logs.mu.Unlock()
	}
}
