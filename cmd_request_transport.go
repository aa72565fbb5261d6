package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/awsconf"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
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
	close()
}

// open connects to the transport chosen. pollEvery paces the HTTP API's
// polling (0: 500ms).
func (ts *transportSettings) open(ctx context.Context, pollEvery time.Duration) (requestTransport, error) {
	switch ts.via {
	case "redis":
		c, err := redis.Dial(ts.redis)
		if err != nil {
			return nil, err
		}
		return &redisRequest{c: c, channel: ts.channel, results: ts.resultsChannel}, nil
	case "sqs":
		c, err := newSQSClient(ctx, ts.sqs)
		if err != nil {
			return nil, err
		}
		return &sqsRequest{c: c, s: ts.sqs}, nil
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

func (r *redisRequest) close() { r.c.Close() }

// newSQSClient builds an SQS client as the daemon's SQS transport does.
func newSQSClient(ctx context.Context, s sqsSettings) (*sqs.Client, error) {
	region := s.Region
	if region == "" {
		region = sqsRegionFromURL(s.URL)
	}
	cfg, err := awsconf.Load(ctx, awsconf.Settings{Region: region, AccessID: s.AccessID, AccessKey: s.AccessKey})
	if err != nil {
		return nil, fmt.Errorf("sqs: load AWS configuration: %w", err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		if s.Protocol == "query" {
			o.Protocol = awsquery.New(schemas.AmazonSQS)
		}
	}), nil
}

// sqsRegionFromURL returns the region of an AWS queue URL
// (https://sqs.<region>.amazonaws.com/...), or "".
func sqsRegionFromURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(strings.ToLower(u.Hostname()), "sqs.")
	if !ok {
		return ""
	}
	region, _, ok := strings.Cut(rest, ".amazonaws.com")
	if !ok || region == "" || strings.Contains(region, ".") {
		return ""
	}
	return region
}

// sqsRequest sends to an SQS queue and reads the results queue.
type sqsRequest struct {
	c *sqs.Client
	s sqsSettings
}

func (q *sqsRequest) publish(ctx context.Context, body []byte) (publishInfo, error) {
	out, err := q.c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.s.URL), MessageBody: aws.String(string(body))})
	if err != nil {
		return publishInfo{}, fmt.Errorf("sqs: send to %s: %w", q.s.URL, err)
	}
	return publishInfo{receivers: -1, note: fmt.Sprintf("sent to %s as message %s", q.s.URL, aws.ToString(out.MessageId))}, nil
}

// sqsResultWait is the long-poll wait of one receive on the results queue.
const sqsResultWait = 5

// listen reads the results queue: a result for id is delivered and
// deleted; any other message is released at once (visibility 0) for
// whoever waits for it, and the next receive waits a little, so that a
// queue full of others' results is not read in a busy loop.
func (q *sqsRequest) listen(ctx context.Context, id string, ready func(), events chan<- any) error {
	if q.s.ResultsURL == "" {
		ready()
		<-ctx.Done()
		return nil
	}
	ready()
	failures := 0
	for ctx.Err() == nil {
		out, err := q.c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.s.ResultsURL), MaxNumberOfMessages: 10, WaitTimeSeconds: sqsResultWait,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if failures++; failures >= 3 {
				return fmt.Errorf("sqs: receive from %s: %w", q.s.ResultsURL, err)
			}
			sleepCtx(ctx, time.Second)
			continue
		}
		failures = 0
		foreign := 0
		for _, m := range out.Messages {
			ev, mine := decodeResult([]byte(aws.ToString(m.Body)), id)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if mine {
				emit(ctx, events, ev)
				_, _ = q.c.DeleteMessage(sctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.s.ResultsURL), ReceiptHandle: m.ReceiptHandle})
			} else {
				foreign++
				_, _ = q.c.ChangeMessageVisibility(sctx, &sqs.ChangeMessageVisibilityInput{
					QueueUrl: aws.String(q.s.ResultsURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			}
			cancel()
		}
		if foreign > 0 && foreign == len(out.Messages) {
			sleepCtx(ctx, 300*time.Millisecond)
		}
	}
	return nil
}

func (q *sqsRequest) close() {}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// httpAPI is a client of the daemon's HTTP API.
type httpAPI struct {
	base, token string
	client      *http.Client
}

// httpAPI returns a client of the daemon's HTTP API at ts.httpURL; an
// https:// API's certificate is checked against ts.httpRoots (nil: the
// system's roots).
func (ts *transportSettings) httpAPI() *httpAPI {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: ts.httpRoots, MinVersion: tls.VersionTLS12}
	return &httpAPI{
		base:   strings.TrimRight(ts.httpURL, "/"),
		token:  ts.token,
		client: &http.Client{Timeout: 10 * time.Second, Transport: tr},
	}
}

// httpStatusError is an error answer of the API.
type httpStatusError struct {
	Code int
	Msg  string
}

func (e *httpStatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Msg) }

func (h *httpAPI) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if method == http.MethodPost || method == http.MethodDelete {
		// The API refuses these without it (415): a web page cannot
		// send it without a CORS preflight.
		req.Header.Set("Content-Type", "application/json")
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

// post submits a request; it returns the id the API answered with.
func (h *httpAPI) post(ctx context.Context, body []byte) (string, error) {
	code, b, err := h.do(ctx, http.MethodPost, "/v1/captures", body)
	if err != nil {
		return "", fmt.Errorf("POST %s/v1/captures: %w", h.base, err)
	}
	var reply struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &reply)
	if code != http.StatusAccepted {
		msg := reply.Error
		if msg == "" {
			msg = strings.TrimSpace(string(b))
		}
		return reply.ID, fmt.Errorf("POST %s/v1/captures: %w", h.base, &httpStatusError{Code: code, Msg: msg})
	}
	return reply.ID, nil
}

// get reads a request's state; found is false on 404.
func (h *httpAPI) get(ctx context.Context, id string) (ev stateEvent, found bool, err error) {
	code, b, err := h.do(ctx, http.MethodGet, "/v1/captures/"+url.PathEscape(id), nil)
	if err != nil {
		return ev, false, err
	}
	switch code {
	case http.StatusOK:
	case http.StatusNotFound:
		return ev, false, nil
	default:
		return ev, false, &httpStatusError{Code: code, Msg: strings.TrimSpace(string(b))}
	}
	var raw struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &ev.state); err != nil {
		return ev, false, fmt.Errorf("GET /v1/captures/%s: %w", id, err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return ev, false, fmt.Errorf("GET /v1/captures/%s: %w", id, err)
	}
	ev.results = raw.Results
	return ev, true, nil
}

// poll reads the state of id every interval and delivers it until ctx
// ends. With own, the state is the source of the results; without, a
// failing API only means no live status.
func (h *httpAPI) poll(ctx context.Context, id string, own bool, interval time.Duration, events chan<- any) {
	for ctx.Err() == nil {
		ev, found, err := h.get(ctx, id)
		if err == nil && found {
			ev.own = own
			emit(ctx, events, ev)
		}
		var se *httpStatusError
		if !own && errors.As(err, &se) && se.Code == http.StatusUnauthorized {
			return // no token for the status: stop asking
		}
		sleepCtx(ctx, interval)
	}
}

// httpRequest posts to the daemon's HTTP API and polls the request's state.
type httpRequest struct {
	api   *httpAPI
	every time.Duration
}

func (r *httpRequest) publish(ctx context.Context, body []byte) (publishInfo, error) {
	id, err := r.api.post(ctx, body)
	if err != nil {
		return publishInfo{receivers: -1}, err
	}
	return publishInfo{receivers: -1, note: fmt.Sprintf("accepted by %s as %s", r.api.base, id)}, nil
}

func (r *httpRequest) listen(ctx context.Context, id string, ready func(), events chan<- any) error {
	ready()
	every := r.every
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	r.api.poll(ctx, id, true, every, events)
	return nil
}

func (r *httpRequest) close() {}
