package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// Submitter takes one raw request message. It returns the request id once
// the request was accepted, or an error; the Config hooks tell which errors
// mean "invalid" and "not for this node". The agent implements it (the Redis
// and HTTP transports use the same method).
type Submitter interface {
	Submit(ctx context.Context, msg []byte, source string) (id string, err error)
}

// Source is the source name passed to Submit.
const Source = "sqs"

// Config is the SQS transport's configuration, mapped by internal/fromconfig from [sqs].
type Config struct {
	QueueURL string // url: the request queue, required
	Region   string // empty: from the queue URL's host, the default chain, else us-east-1
	Endpoint string // full URL of an SQS-compatible server; empty for AWS
	Protocol string // "json" (default) or "query"

	// AccessID and AccessKey are static credentials; both empty means the
	// AWS default chain.
	AccessID  string
	AccessKey string

	WaitSeconds int // long-poll wait, 0..20 (default 20)
	ChunkSize   int // messages per receive, 1..10 (default 10; larger values are capped)
	Concurrency int // messages being submitted at once (default ChunkSize)

	// Shared says that several agents poll this queue: a request for
	// another node is released instead of deleted.
	Shared bool

	// ResultsURL is an optional queue for result events (resultsurl).
	ResultsURL string

	// IsPermanent reports whether a Submit error settles the request for
	// good (invalid, duplicate, rejected): the message is deleted. Nil means
	// AgentPermanent.
	IsPermanent func(error) bool
	// IsForeign reports whether a Submit error says the request is for
	// another node. Nil means AgentForeign.
	IsForeign func(error) bool

	// Backoff paces receive retries after failures; the zero Policy means
	// 1s doubling to 1m, full jitter. Its Attempts is not used: Run never
	// gives up.
	Backoff retry.Policy

	// HTTPClient replaces the SDK's HTTP client (tests); nil keeps it.
	HTTPClient *http.Client
}

// settleTimeout bounds a delete or release, which runs even after the
// receive loop's context was cancelled.
const settleTimeout = 10 * time.Second

// Queue is a running SQS transport. It implements agent.ResultPublisher.
type Queue struct {
	cfg    Config
	client *sqs.Client
	sub    Submitter
	log    *slog.Logger

	refused atomic.Uint64       // messages the Guard refused, deleted
	rejLog  transport.Sometimes // paces the log lines for them
}

// New checks cfg and builds the SQS client; nothing is contacted yet.
func New(ctx context.Context, cfg Config, sub Submitter, log *slog.Logger) (*Queue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if sub == nil {
		return nil, errors.New("sqs: nil submitter")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := newSQSClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, client: client, sub: sub, log: log.With("transport", "sqs")}
	q.rejLog = transport.Sometimes{Burst: 10, Interval: time.Second}
	return q, nil
}

// Refused returns how many messages the Guard refused (too large, unsigned,
// badly signed, stale, replayed) and that were therefore deleted.
func (q *Queue) Refused() uint64 { return q.refused.Load() }

// validate checks a Config and fills its defaults.
func (c *Config) validate() error {
	if c.QueueURL == "" {
		return errors.New("sqs: url (the queue URL) is required")
	}
	if err := checkURL(c.QueueURL); err != nil {
		return fmt.Errorf("sqs: url: %w", err)
	}
	if c.ResultsURL != "" {
		if err := checkURL(c.ResultsURL); err != nil {
			return fmt.Errorf("sqs: resultsurl: %w", err)
		}
	}
	if c.Endpoint != "" {
		if err := checkURL(c.Endpoint); err != nil {
			return fmt.Errorf("sqs: endpoint: %w", err)
		}
	}
	switch c.Protocol {
	case "":
		c.Protocol = "json"
	case "json", "query":
	default:
		return fmt.Errorf("sqs: protocol %q: want json or query", c.Protocol)
	}
	if (c.AccessID == "") != (c.AccessKey == "") {
		return errors.New("sqs: accessid and accesskey must be set together (or both left empty for the AWS default chain)")
	}
	if c.Region == "" {
		c.Region = regionFromURL(c.QueueURL)
	}
	if c.WaitSeconds < 0 || c.WaitSeconds > 20 {
		return fmt.Errorf("sqs: waitseconds %d: want 0..20", c.WaitSeconds)
	}
	if c.WaitSeconds == 0 {
		c.WaitSeconds = 20
	}
	if c.ChunkSize < 0 {
		return fmt.Errorf("sqs: chunksize %d: want 1..10", c.ChunkSize)
	}
	if c.ChunkSize == 0 || c.ChunkSize > 10 {
		c.ChunkSize = 10 // SQS's limit per ReceiveMessage
	}
	if c.Concurrency <= 0 {
		c.Concurrency = c.ChunkSize
	}
	if c.IsPermanent == nil {
		c.IsPermanent = AgentPermanent
	}
	if c.IsForeign == nil {
		c.IsForeign = AgentForeign
	}
	if c.Backoff == (retry.Policy{}) {
		c.Backoff = retry.Policy{Initial: time.Second, Max: time.Minute, Jitter: 1}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: must be an http:// or https:// URL with a host", s)
	}
	return nil
}

// regionFromURL returns the region of an AWS queue URL
// (https://sqs.<region>.amazonaws.com/<account>/<name>), or "".
func regionFromURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	rest, ok := strings.CutPrefix(host, "sqs.")
	if !ok {
		return ""
	}
	region, _, ok := strings.Cut(rest, ".amazonaws.com")
	if !ok || region == "" || strings.Contains(region, ".") {
		return ""
	}
	return region
}

// PublishResult sends r as JSON to the result queue; without one it does
// nothing.
func (q *Queue) PublishResult(ctx context.Context, r agent.Result) error {
	if q.cfg.ResultsURL == "" {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("sqs: encode result %s: %w", r.ID, err)
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.cfg.ResultsURL), MessageBody: aws.String(string(b))})
	if err != nil {
		return fmt.Errorf("sqs: publish result %s: %w", r.ID, err)
	}
	return nil
}

// Run polls the queue until ctx ends, then waits for the messages being
// handled and returns nil. Failed receives are retried for ever.
func (q *Queue) Run(ctx context.Context) error {
	slots := make(chan struct{}, q.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	failing := 0
	for ctx.Err() == nil {
		// Take one free slot (waiting if all are busy), then as many more
		// as are free, up to a chunk.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		n := 1
		for n < q.cfg.ChunkSize {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		msgs, err := q.receive(ctx, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failing++
			q.receiveFailed(ctx, failing, err)
			continue
		}
		if failing > 0 {
			q.log.Info("queue reachable again", "queue", q.cfg.QueueURL, "failed_receives", failing)
			failing = 0
		}
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				q.handle(ctx, m)
			}()
		}
	}
	return nil
}

// receive long-polls for up to n messages.
func (q *Queue) receive(ctx context.Context, n int) ([]types.Message, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.cfg.QueueURL),
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     int32(q.cfg.WaitSeconds),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Messages) > n {
		// Some servers (goaws) ignore the limit: never exceed our slots.
		q.log.Warn("server returned more messages than asked; extra ones left to reappear", "asked", n, "got", len(out.Messages))
		return out.Messages[:n], nil
	}
	return out.Messages, nil
}

// receiveFailed logs the first failure of a run of them (later ones at
// Debug level) and sleeps the backoff.
func (q *Queue) receiveFailed(ctx context.Context, failing int, err error) {
	d := q.cfg.Backoff.Delay(failing)
	if failing == 1 {
		q.log.Error("cannot receive from queue; retrying with backoff until it answers", "queue", q.cfg.QueueURL, "err", err)
	} else {
		q.log.Debug("receive still failing", "queue", q.cfg.QueueURL, "attempt", failing, "backoff", d, "err", err)
	}
	retry.Wait(ctx, d)
}

// handle submits one message and settles it (see the package comment).
func (q *Queue) handle(ctx context.Context, m types.Message) {
	mid := aws.ToString(m.MessageId)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	body := []byte(aws.ToString(m.Body))
	if env, ok := unwrapSNS(body); ok {
		if env.Type != snsNotification {
			// A SubscriptionConfirmation (a topic of another account):
			// the operator confirms it, the agent does not.
			q.log.Warn("SNS message that is not a notification deleted; confirm a subscription with its SubscribeURL",
				"message", mid, "type", env.Type, "topic", env.TopicArn)
			q.delete(sctx, m)
			return
		}
		body = []byte(*env.Message)
	}
	id, err := q.sub.Submit(ctx, body, Source)
	switch {
	case err == nil:
		q.log.Debug("request accepted", "message", mid, "id", id)
		q.delete(sctx, m)
	case errors.Is(err, transport.ErrRejected):
		q.refuse(sctx, m, err)
	case q.cfg.IsForeign(err):
		if q.cfg.Shared {
			q.log.Debug("request for another node released", "message", mid, "err", err)
			q.release(sctx, m)
			return
		}
		q.log.Debug("request for another node deleted", "message", mid, "err", err)
		q.delete(sctx, m)
	case q.cfg.IsPermanent(err):
		// The agent logs its own rejections (once, with the reason); the
		// Guard's, which never reached it, are refuse's.
		q.log.Debug("request not taken; message deleted", "message", mid, "id", id, "err", err)
		q.delete(sctx, m)
	default:
		q.log.Warn("request not taken; left on the queue to be delivered again", "message", mid, "err", err)
	}
}

// refuse settles a message the Guard turned away. No agent can ever take
// it (they share the key, the clock window and the size limit), so it is
// deleted rather than left to come back until its retention ends. The one
// exception is a replay on a shared queue: this agent may have seen the
// envelope before because it released it as another node's request, and
// the node it is for has not; it is released, and once its signing time
// is outside the window every agent refuses it as stale and deletes it.
func (q *Queue) refuse(ctx context.Context, m types.Message, err error) {
	mid := aws.ToString(m.MessageId)
	var re *transport.RejectError
	if q.cfg.Shared && errors.As(err, &re) && re.Reason == transport.ReasonReplay {
		q.log.Debug("replayed envelope on a shared queue released", "message", mid, "err", err)
		q.release(ctx, m)
		return
	}
	n := q.refused.Add(1)
	// The Guard's rejections reach no one else: log them here, a few per
	// second at most (a flood must not flood the log).
	if ok, suppressed := q.rejLog.Allow(time.Now()); ok {
		q.log.Warn("request refused; message deleted", "message", mid, "err", err, "refused_total", n, "suppressed", suppressed)
	}
	q.delete(ctx, m)
}

func (q *Queue) delete(ctx context.Context, m types.Message) {
	_, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.cfg.QueueURL), ReceiptHandle: m.ReceiptHandle})
	if err != nil {
		q.log.Warn("cannot delete message; it will be delivered again", "message", aws.ToString(m.MessageId), "err", err)
	}
}

func (q *Queue) release(ctx context.Context, m types.Message) {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.cfg.QueueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
	})
	if err != nil {
		q.log.Warn("cannot release message; another agent gets it after the visibility timeout", "message", aws.ToString(m.MessageId), "err", err)
	}
}
