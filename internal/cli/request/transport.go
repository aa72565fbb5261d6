package request

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
	"github.com/pcapdaemon/pcapdaemon/transport/sqs"
)

// resultEvent is one result event received: the JSON as published, and
// decoded.
type resultEvent struct {
	raw json.RawMessage
	res agent.Result
}

// stateEvent is a request's state read from GET /v1/captures/{id}.
type stateEvent struct {
	state   agent.RequestState
	results []json.RawMessage // state.Results as sent
	// own is set when the state is the source of results (-via http),
	// not only of the live status.
	own bool
}

// publishInfo is what publishing learnt.
type publishInfo struct {
	receivers int64  // Redis: subscribers that got the message; -1 when unknown
	note      string // said on stderr without -wait
}

// requestTransport publishes a request and delivers the results for it.
type requestTransport interface {
	// listen delivers the result events of request id on events until ctx
	// ends (nil) or it fails. It calls ready once results published from
	// then on cannot be missed.
	listen(ctx context.Context, id string, ready func(), events chan<- any) error
	publish(ctx context.Context, body []byte) (publishInfo, error)
	// cancel publishes msg, the cancel message of request id (signed
	// when required), or asks the daemon to cancel id; it returns what to
	// say about it.
	cancel(ctx context.Context, id string, msg []byte) (string, error)
	close()
}

// presenceSource is a transport that knows the live agents: Redis, where
// each keeps a presence record.
type presenceSource interface {
	nodes(ctx context.Context) ([]redis.Node, error)
	present(ctx context.Context, names []string) (map[string]bool, error)
}

// open connects to the transport chosen. pollEvery paces the HTTP API's
// polling (0: 500ms).
func (ts *Settings) open(ctx context.Context, pollEvery time.Duration) (requestTransport, error) {
	switch ts.Via {
	case "redis":
		c, err := redis.Dial(ts.Redis)
		if err != nil {
			return nil, err
		}
		return &redisRequest{c: c, channel: ts.Channel, results: ts.ResultsChannel}, nil
	case "sqs":
		q := ts.SQS
		c, err := sqs.Dial(ctx, sqs.Config{QueueURL: q.URL, ResultsURL: q.ResultsURL, Endpoint: q.Endpoint,
			Protocol: q.Protocol, Region: q.Region, AccessID: q.AccessID, AccessKey: q.AccessKey})
		if err != nil {
			return nil, err
		}
		return &sqsRequest{c: c, url: q.URL}, nil
	case "sns":
		return ts.openSNS(ctx)
	}
	return &httpRequest{api: ts.httpAPI(), every: pollEvery}, nil
}

// emit sends v on events unless ctx ends first.
func emit(ctx context.Context, events chan<- any, v any) {
	select {
	case events <- v:
	case <-ctx.Done():
	}
}

// decodeResult decodes a result event and reports whether it is one for id.
func decodeResult(b []byte, id string) (resultEvent, bool) {
	var r agent.Result
	if json.Unmarshal(b, &r) != nil || r.ID != id {
		return resultEvent{}, false
	}
	var compact bytes.Buffer
	if json.Compact(&compact, b) != nil {
		return resultEvent{}, false
	}
	return resultEvent{raw: compact.Bytes(), res: r}, true
}

// redisRequest publishes on a Redis channel and listens on the results
// channel.
type redisRequest struct {
	c                *redis.Client
	channel, results string
}

func (r *redisRequest) publish(ctx context.Context, body []byte) (publishInfo, error) {
	n, err := r.c.Publish(ctx, r.channel, body)
	if err != nil {
		return publishInfo{}, err
	}
	if n == 0 {
		return publishInfo{receivers: 0}, fmt.Errorf("no agent is subscribed to Redis channel %q: the request reached no one", r.channel)
	}
	return publishInfo{receivers: n, note: fmt.Sprintf("published on Redis channel %q to %d subscriber(s)", r.channel, n)}, nil
}

func (r *redisRequest) listen(ctx context.Context, id string, ready func(), events chan<- any) error {
	err := r.c.Subscribe(ctx, r.results, ready, func(msg []byte) bool {
		if ev, ok := decodeResult(msg, id); ok {
			emit(ctx, events, ev)
		}
		return true
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (r *redisRequest) cancel(ctx context.Context, id string, msg []byte) (string, error) {
	n, err := r.c.Publish(ctx, r.channel, msg)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", fmt.Errorf("no agent is subscribed to Redis channel %q: the cancel reached no one", r.channel)
	}
	return fmt.Sprintf("cancel of %s published on Redis channel %q to %d subscriber(s)", id, r.channel, n), nil
}

func (r *redisRequest) nodes(ctx context.Context) ([]redis.Node, error) {
	return r.c.Nodes(ctx, r.channel)
}

func (r *redisRequest) present(ctx context.Context, names []string) (map[string]bool, error) {
	return r.c.Present(ctx, r.channel, names)
}

func (r *redisRequest) close() { r.c.Close() }

// sqsRequest sends to an SQS queue and reads the results queue.
type sqsRequest struct {
	c   *sqs.Client
	url string
}

func (q *sqsRequest) publish(ctx context.Context, body []byte) (publishInfo, error) {
	mid, err := q.c.Send(ctx, body)
	if err != nil {
		return publishInfo{}, err
	}
	return publishInfo{receivers: -1, note: fmt.Sprintf("sent to %s as message %s", q.url, mid)}, nil
}

// listen delivers the results for id from the results queue (none without
// one: the HTTP API's state is then the source).
func (q *sqsRequest) listen(ctx context.Context, id string, ready func(), events chan<- any) error {
	return listenQueue(ctx, q.c, id, ready, events)
}

func (q *sqsRequest) cancel(ctx context.Context, id string, msg []byte) (string, error) {
	mid, err := q.c.Send(ctx, msg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("cancel of %s sent to %s as message %s", id, q.url, mid), nil
}

func (q *sqsRequest) close() {}

// listenQueue delivers the results for id from c's results queue.
func listenQueue(ctx context.Context, c *sqs.Client, id string, ready func(), events chan<- any) error {
	ready()
	return c.Results(ctx, func(body []byte) bool {
		ev, mine := decodeResult(body, id)
		if mine {
			emit(ctx, events, ev)
		}
		return mine
	})
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// httpAPI returns a client of the daemon's HTTP API at ts.HTTPURL; an
// https:// API's certificate is checked against ts.HTTPRoots (nil: the
// system's roots).
func (ts *Settings) httpAPI() *httpapi.Client {
	return httpapi.NewClient(ts.HTTPURL, ts.Token, ts.HTTPRoots)
}

// poll reads the state of id every interval and delivers it until ctx
// ends. With own, the state is the source of the results; without, a
// failing API only means no live status.
func poll(ctx context.Context, api *httpapi.Client, id string, own bool, interval time.Duration, events chan<- any) {
	for ctx.Err() == nil {
		st, found, err := api.Lookup(ctx, id)
		if err == nil && found {
			emit(ctx, events, stateEvent{state: st.Request, results: st.Results, own: own})
		}
		var se *httpapi.StatusError
		if !own && errors.As(err, &se) && se.Code == http.StatusUnauthorized {
			return // no token for the status: stop asking
		}
		sleepCtx(ctx, interval)
	}
}

// httpRequest posts to the daemon's HTTP API and polls the request's state.
type httpRequest struct {
	api   *httpapi.Client
	every time.Duration
}

func (r *httpRequest) publish(ctx context.Context, body []byte) (publishInfo, error) {
	id, err := r.api.Submit(ctx, body)
	if err != nil {
		return publishInfo{receivers: -1}, err
	}
	return publishInfo{receivers: -1, note: fmt.Sprintf("accepted by %s as %s", r.api.Base(), id)}, nil
}

func (r *httpRequest) listen(ctx context.Context, id string, ready func(), events chan<- any) error {
	ready()
	every := r.every
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	poll(ctx, r.api, id, true, every, events)
	return nil
}

func (r *httpRequest) cancel(ctx context.Context, id string, _ []byte) (string, error) {
	if err := r.api.Cancel(ctx, id); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s cancelled by %s", id, r.api.Base()), nil
}

func (r *httpRequest) close() {}
