package sqs

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pcapdaemon/pcapdaemon/internal/awsconf"
)

// newSQSClient builds the SDK's client for cfg (validated): the region,
// credentials, endpoint, protocol and HTTP client. The daemon's Queue and
// the requester's Client use the same.
func newSQSClient(ctx context.Context, cfg Config) (*sqs.Client, error) {
	awsCfg, err := awsconf.Load(ctx, awsconf.Settings{Region: cfg.Region, AccessID: cfg.AccessID, AccessKey: cfg.AccessKey})
	if err != nil {
		return nil, fmt.Errorf("sqs: load AWS configuration: %w", err)
	}
	return sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient // not via LoadDefaultConfig (AWS_CA_BUNDLE)
		}
		if cfg.Protocol == "query" {
			// The SDK serialises through a pluggable protocol; its query
			// implementation (form body, XML reply) uses the service's
			// schema, which carries the query names and error codes.
			o.Protocol = awsquery.New(schemas.AmazonSQS)
		}
	}), nil
}

// Client is the requester's side of the queues, for the "pcapdaemon
// request" command and for tests: send a request to the request queue, read
// result events from the results queue.
type Client struct {
	cfg    Config
	client *sqs.Client
}

// Dial builds a client for cfg's queues; nothing is contacted yet. Only
// QueueURL (required), ResultsURL, Region, Endpoint, Protocol, the
// credentials and HTTPClient are used; a Region left empty is taken from
// the queue URL, as New does.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := newSQSClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, client: client}, nil
}

// Send sends body to the request queue and returns the message id SQS gave
// it.
func (c *Client) Send(ctx context.Context, body []byte) (string, error) {
	out, err := c.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(c.cfg.QueueURL), MessageBody: aws.String(string(body))})
	if err != nil {
		return "", fmt.Errorf("sqs: send to %s: %w", c.cfg.QueueURL, err)
	}
	return aws.ToString(out.MessageId), nil
}

const (
	// resultWait is the long-poll wait of one receive on the results queue.
	resultWait = 5
	// resultFailures is how many receives in a row may fail before Results
	// gives up.
	resultFailures = 3
)

// Results reads the results queue until ctx ends (it then returns nil) or
// resultFailures receives in a row fail. Every message is passed to take:
// one it takes (a result the caller waits for) is deleted; any other is
// released at once (visibility 0) for whoever waits for it, and the next
// receive waits a little, so that a queue full of others' results is not
// read in a busy loop. Without a results queue it waits for ctx.
func (c *Client) Results(ctx context.Context, take func(body []byte) bool) error {
	if c.cfg.ResultsURL == "" {
		<-ctx.Done()
		return nil
	}
	queue := aws.String(c.cfg.ResultsURL)
	failures := 0
	for ctx.Err() == nil {
		out, err := c.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: queue, MaxNumberOfMessages: 10, WaitTimeSeconds: resultWait,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if failures++; failures >= resultFailures {
				return fmt.Errorf("sqs: receive from %s: %w", c.cfg.ResultsURL, err)
			}
			sleep(ctx, time.Second)
			continue
		}
		failures = 0
		foreign := 0
		for _, m := range out.Messages {
			mine := take([]byte(aws.ToString(m.Body)))
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if mine {
				_, _ = c.client.DeleteMessage(sctx, &sqs.DeleteMessageInput{QueueUrl: queue, ReceiptHandle: m.ReceiptHandle})
			} else {
				foreign++
				_, _ = c.client.ChangeMessageVisibility(sctx, &sqs.ChangeMessageVisibilityInput{
					QueueUrl: queue, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
			}
			cancel()
		}
		if foreign > 0 && foreign == len(out.Messages) {
			sleep(ctx, 300*time.Millisecond)
		}
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
