package sqs

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// link is a network namespace joined to the host by a veth pair.
type link struct {
	NS       string // namespace name
	HostLink string // the veth end in the host's namespace
	HostAddr string // its address
	NSAddr   string // the address of the end inside NS
}

// newLink makes a network namespace joined to the host by a veth pair with
// a /30 from 198.18.0.0/15; everything is deleted at cleanup.
func newLink(t testing.TB) link {
	t.Helper()
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	return link{NS: p.NS.Name, HostLink: p.Host, HostAddr: p.HostAddr.String(), NSAddr: p.PeerAddr.String()}
}

// goaws is a goaws SQS server running in its own network namespace.
type goaws struct {
	*sinktest.Goaws
	Link link
}

// startGoaws starts goaws in a fresh namespace with the default visibility
// timeout vis (seconds). Queues are made with createQueue.
func startGoaws(t testing.TB, vis int) *goaws {
	t.Helper()
	testenv.FindBinary(t, sinktest.GoawsPkg, "goaws", "cmd") // skip before making a namespace
	l := newLink(t)
	return &goaws{Goaws: sinktest.StartGoaws(t, l.NS, l.NSAddr, vis), Link: l}
}

func (g *goaws) start(t testing.TB) { t.Helper(); g.Restart(t) }

func (g *goaws) stop() { g.Stop() }

// createQueue makes a queue with the given visibility timeout.
func (g *goaws) createQueue(t testing.TB, name string, vis int) string {
	t.Helper()
	return g.CreateQueue(t, name, map[string]string{"VisibilityTimeout": strconv.Itoa(vis)})
}

func (g *goaws) send(t testing.TB, queue, body string) {
	t.Helper()
	g.Send(t, queue, body)
}

// receiveAll returns the bodies of the messages visible now (and leaves
// them invisible for the queue's visibility timeout).
func (g *goaws) receiveAll(t testing.TB, queue string) []string {
	t.Helper()
	out, err := g.Client().ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
	})
	if err != nil {
		t.Fatalf("receive from %s: %v", queue, err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	return bodies
}
