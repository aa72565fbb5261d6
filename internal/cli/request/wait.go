package request

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// waitFor listens for the results, publishes body and waits until every
// expected result is in, the deadline passes or ctx ends. It returns the
// exit status.
func (c *Command) waitFor(ctx context.Context, tr requestTransport, ts *Settings, w *waiter, req agent.Request, body []byte) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan any, 64)
	listenErr, err := listen(ctx, tr, req.ID, events)
	if err != nil {
		return c.fail("%v", err)
	}
	// The HTTP API's state is the source of the results over HTTP, and
	// over SQS without a results queue.
	ownState := ts.Via == "http" || (ts.Via == "sqs" && ts.SQS.ResultsURL == "")
	w.byState = ownState
	info, err := tr.publish(ctx, body)
	if err != nil {
		var se *httpapi.StatusError
		// A request the agent rejected (invalid, over budget) has a
		// rejected result to show; anything else ends here.
		if !errors.As(err, &se) || (se.Code != http.StatusBadRequest && se.Code != http.StatusTooManyRequests) {
			return c.fail("%v", err)
		}
		fmt.Fprintf(c.Stderr, "pcapdaemon request: %v\n", err)
	}
	switch ts.Via {
	case "redis":
		w.expectNodes(int(info.receivers))
	case "sqs":
		w.expectNodes(1) // a queue hands a message to one consumer
	}
	if ts.Via != "http" && ts.HTTPURL != "" {
		every := c.PollEvery
		if every <= 0 {
			every = 500 * time.Millisecond
		}
		go poll(ctx, ts.httpAPI(), req.ID, ownState, every, events)
	}
	return w.collect(ctx, events, listenErr)
}

// listen starts tr's listener for the results of request id and waits
// until it is ready (results published from then on cannot be missed). The
// listener's end is sent on the channel returned.
func listen(ctx context.Context, tr requestTransport, id string, events chan<- any) (<-chan error, error) {
	ready := make(chan struct{})
	listenErr := make(chan error, 1)
	var once sync.Once
	go func() {
		listenErr <- tr.listen(ctx, id, func() { once.Do(func() { close(ready) }) }, events)
	}()
	select {
	case <-ready:
		return listenErr, nil
	case err := <-listenErr:
		return nil, fmt.Errorf("listening for results: %w", err)
	case <-ctx.Done():
		return nil, errors.New("interrupted")
	case <-time.After(readyTimeout):
		return nil, fmt.Errorf("listening for results: not ready after %v", readyTimeout)
	}
}

// collect takes the events until every expected result is in, the
// deadline passes, the listener fails or ctx ends, showing the status on
// the way, and returns the exit status.
func (w *waiter) collect(ctx context.Context, events <-chan any, listenErr <-chan error) int {
	deadline := time.NewTimer(w.deadline.Sub(w.now()))
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	w.showStatus(false)
	for !w.complete() {
		select {
		case ev := <-events:
			w.handle(ev)
			w.showStatus(false)
		case err := <-listenErr:
			if err != nil {
				return w.finish("listening for results: " + err.Error())
			}
			listenErr = nil
		case <-tick.C:
			w.showStatus(true)
		case <-deadline.C:
			return w.finish("")
		case <-ctx.Done():
			return w.finish("interrupted")
		}
	}
	return w.finish("")
}
