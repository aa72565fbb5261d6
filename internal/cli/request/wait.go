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
// expected result is in, the deadline passes or ctx ends; a Ctrl-C
// (c.Interrupted) meanwhile cancels the request. early is ctx until the
// first Ctrl-C: what comes before the waiting ends with it. fl, when not
// nil, is who takes the request (Redis presence). It returns the exit
// status.
func (c *Command) waitFor(ctx, early context.Context, tr requestTransport, ts *Settings, w *waiter, req agent.Request, body []byte, fl *fleet) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan any, 64)
	listenErr, err := listen(ctx, early, tr, req.ID, events)
	if err != nil {
		return c.fail("%v", err)
	}
	// The HTTP API's state is the source of the results over HTTP, and
	// over SQS without a results queue.
	ownState := ts.Via == "http" || (ts.Via == "sqs" && ts.SQS.ResultsURL == "")
	w.byState = ownState
	info, err := tr.publish(early, body)
	if err != nil && early.Err() != nil {
		return c.fail("interrupted")
	}
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
		if fl == nil {
			w.expectNodes(int(info.receivers))
			break
		}
		if int(info.receivers) > len(fl.present) {
			fmt.Fprintf(c.Stderr, "pcapdaemon request: %d subscriber(s) got it, %d agent(s) keep a presence record: results from the others are printed, not waited for\n",
				info.receivers, len(fl.present))
		}
		every := c.PresenceEvery
		if every <= 0 {
			every = presenceEvery
		}
		go watchPresence(ctx, tr.(presenceSource), fl.names(), every, events)
	case "sqs":
		w.expectNodes(1) // a queue hands a message to one consumer
	case "sns":
		how := "until the deadline (give -count N to stop after N results)"
		if w.count > 0 {
			how = fmt.Sprintf("for %d result(s) (-count)", w.count)
		}
		fmt.Fprintf(c.Stderr, "pcapdaemon request: an SNS topic reaches every queue subscribed to it and SQS keeps no presence: "+
			"how many agents take the request cannot be known; waiting %s\n", how)
	}
	if ts.Via != "http" && ts.HTTPURL != "" {
		every := c.PollEvery
		if every <= 0 {
			every = 500 * time.Millisecond
		}
		go poll(ctx, ts.httpAPI(), req.ID, ownState, every, events)
	}
	cancelReq := func() {
		go func() {
			cctx, cancel := context.WithTimeout(ctx, readyTimeout)
			defer cancel()
			note, err := tr.cancel(cctx, req.ID, ts.sign(agent.CancelMessage(req.ID), c.Now()))
			emit(ctx, events, cancelEvent{note: note, err: err})
		}()
	}
	return w.collect(ctx, events, listenErr, c.Interrupted, cancelReq)
}

// listen starts tr's listener for the results of request id, until ctx
// ends, and waits until it is ready (results published from then on cannot
// be missed), or early ends. The listener's end is sent on the channel
// returned.
func listen(ctx, early context.Context, tr requestTransport, id string, events chan<- any) (<-chan error, error) {
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
	case <-early.Done():
		return nil, errors.New("interrupted")
	case <-time.After(readyTimeout):
		return nil, fmt.Errorf("listening for results: not ready after %v", readyTimeout)
	}
}

// cancelGrace bounds the wait for the final results once the request was
// cancelled: its captures end at once, and what they hold is delivered.
const cancelGrace = time.Minute

// collect takes the events until every expected result is in, the
// deadline passes, the listener fails or ctx ends, showing the status on
// the way, and returns the exit status. When interrupted is closed (the
// first Ctrl-C) it calls cancelReq and waits on, at most cancelGrace, for
// the final results.
func (w *waiter) collect(ctx context.Context, events <-chan any, listenErr <-chan error, interrupted <-chan struct{}, cancelReq func()) int {
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
		case <-interrupted:
			interrupted = nil
			w.cancelled = true
			cancelReq()
			if d := w.now().Add(cancelGrace); d.Before(w.deadline) {
				w.deadline = d
				deadline.Reset(cancelGrace)
			}
			w.say("cancelling %s; waiting for its final results (Ctrl-C again to leave now)", w.id)
		case <-ctx.Done():
			return w.finish("interrupted")
		}
	}
	return w.finish("")
}
