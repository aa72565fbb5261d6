package request

import (
	"context"
	"fmt"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// CancelOptions are the parsed command line of "pcapdaemon cancel".
type CancelOptions struct {
	Transport TransportFlags
	ID        string
}

// Cancel cancels request o.ID on every agent that runs it: the cancel
// message ({"cancel": "<id>"}, signed when a key is set) on the Redis
// channel, the SQS queue or the SNS topic, or DELETE /v1/captures/{id} on
// the HTTP API. The captures end with stop reason cancelled and what they
// hold is delivered. It returns the exit status: 0 when the cancel was
// sent (or the daemon cancelled the request), 1 when it was not (no agent
// subscribed, the API does not run the request, a transport failure), 2
// for a bad command line.
func (c *Command) Cancel(ctx context.Context, o CancelOptions) int {
	if !agent.ValidID(o.ID) {
		return c.usage("cancel", fmt.Errorf("request id %q: want 1-64 characters of [A-Za-z0-9._-]", o.ID))
	}
	ts, err := Resolve(o.Transport, c.Environ)
	if err != nil {
		return c.usage("cancel", err)
	}
	tr, err := ts.open(ctx, c.PollEvery)
	if err != nil {
		return c.failAs("cancel", "%v", err)
	}
	defer tr.close()
	note, err := tr.cancel(ctx, o.ID, ts.sign(agent.CancelMessage(o.ID), c.Now()))
	if err != nil {
		return c.failAs("cancel", "%v", err)
	}
	fmt.Fprintln(c.Stdout, o.ID)
	fmt.Fprintf(c.Stderr, "pcapdaemon cancel: %s\n", note)
	return 0
}
