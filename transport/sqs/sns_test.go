package sqs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

func TestUnwrapSNS(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
		typ, msg   string
	}{
		{name: "notification", ok: true, typ: "Notification", msg: `{"node":"any"}`,
			body: `{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-east-1:1:fleet","Message":"{\"node\":\"any\"}","Timestamp":"2026-01-02T03:04:05Z","Signature":"x"}`},
		{name: "confirmation", ok: true, typ: "SubscriptionConfirmation", msg: "You have chosen",
			body: `{"Type":"SubscriptionConfirmation","TopicArn":"arn:aws:sns:us-east-1:1:fleet","Message":"You have chosen","SubscribeURL":"https://sns"}`},
		{name: "a request", body: `{"node":"any","interface":["eth0"]}`},
		{name: "a request naming TopicArn in its filter", body: `{"node":"any","interface":["eth0"],"bpf":"\"TopicArn\""}`},
		{name: "no message", body: `{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:1:fleet"}`},
		{name: "no topic", body: `{"Type":"Notification","Message":"{}","TopicArn":""}`},
		{name: "not JSON", body: `"TopicArn"`},
	}
	for _, tt := range tests {
		e, ok := unwrapSNS([]byte(tt.body))
		if ok != tt.ok || (ok && (e.Type != tt.typ || *e.Message != tt.msg)) {
			t.Errorf("%s: unwrapSNS = %+v, %v; want %v, type %q, message %q", tt.name, e, ok, tt.ok, tt.typ, tt.msg)
		}
	}
}

// TestSNSFanOut publishes on a real SNS topic (goaws) that two queues
// subscribe to, one with SNS's envelope and one raw: the agent behind
// each queue gets the message as published, signed, and the Guard opens
// it. A subscription confirmation on a queue is deleted, never submitted.
func TestSNSFanOut(t *testing.T) {
	testenv.FindBinary(t, sinktest.GoawsPkg, "goaws", "cmd")
	l := newLink(t)
	g := sinktest.StartGoawsTopics(t, l.NS, l.NSAddr, 30,
		sinktest.GoawsTopic{Name: "fleet", Queues: []string{"agent-env", "agent-raw"}, Raw: []bool{false, true}})
	key := []byte("sns-test-hmac-key")
	msg := []byte(`{"id":"fan-1","node":"any","interface":["eth0"]}`)
	var subs []*submitter
	for _, name := range []string{"agent-env", "agent-raw"} {
		sub := newSubmitter(accept)
		subs = append(subs, sub)
		guard := transport.NewGuard(transport.GuardOptions{HMACKey: key}, sub)
		q := newQueue(t, &goaws{Goaws: g, Link: l}, Config{QueueURL: g.QueueURL(name)}, guard, nil)
		runQueue(t, q)
	}
	tc, err := DialTopic(context.Background(), TopicConfig{TopicARN: sinktest.GoawsTopicARN("fleet"), Endpoint: g.Endpoint,
		AccessID: "x", AccessKey: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Publish(context.Background(), transport.Sign(key, msg, time.Now())); err != nil {
		t.Fatalf("publish on the topic: %v\n%s", err, g.Process.Out)
	}
	for i, sub := range subs {
		eventually(t, 10*time.Second, "the request through the topic", func() bool { return sub.count(string(msg)) == 1 })
		eventually(t, 10*time.Second, "the message deleted", func() bool { return g.Pending(t, g.QueueURL([]string{"agent-env", "agent-raw"}[i])) == 0 })
	}

	g.Send(t, g.QueueURL("agent-env"), `{"Type":"SubscriptionConfirmation","TopicArn":"arn:aws:sns::1:other","Message":"confirm","SubscribeURL":"http://198.18.0.1/"}`)
	eventually(t, 10*time.Second, "the confirmation deleted", func() bool { return g.Pending(t, g.QueueURL("agent-env")) == 0 })
	if n := len(subs[0].calls); n != 1 {
		t.Errorf("%d messages submitted, want only the request", n)
	}

	if _, err := DialTopic(context.Background(), TopicConfig{TopicARN: "fleet"}); err == nil {
		t.Error("a topic name that is not an ARN was taken")
	}
}

// TestCancelSettled sends cancel messages for a request no agent runs to
// the real agent behind the transport: on the agent's own queue the
// message is deleted, on a shared queue it is released for the others.
func TestCancelSettled(t *testing.T) {
	g := startGoaws(t, 60)
	ag, err := agent.New(agent.Config{Hostname: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ag.Shutdown(context.Background()) })
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "own", true: "shared"}[shared]
		qurl := g.createQueue(t, "cancel-"+name, 60)
		calls := make(chan error, 10)
		q := newQueue(t, g, Config{QueueURL: qurl, Shared: shared, ChunkSize: 1}, submitFunc(func(ctx context.Context, msg []byte, src string) (string, error) {
			id, err := ag.Submit(ctx, msg, src)
			calls <- err
			return id, err
		}), nil)
		q.cfg.IsForeign, q.cfg.IsPermanent = AgentForeign, AgentPermanent
		g.send(t, qurl, string(agent.CancelMessage("not-here")))
		stop := runQueue(t, q)
		select {
		case err := <-calls:
			if !errors.Is(err, agent.ErrNotForNode) {
				t.Errorf("%s queue: Submit = %v, want ErrNotForNode", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s queue: the cancel was not submitted", name)
		}
		stop()
		// A 60s visibility timeout: the message is visible now only if it
		// was released.
		left := g.receiveAll(t, qurl)
		if want := map[bool]int{false: 0, true: 1}[shared]; len(left) != want {
			t.Errorf("%s queue: %d messages visible after the cancel, want %d", name, len(left), want)
		}
	}
}
