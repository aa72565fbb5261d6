package sqs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/pcapdaemon/pcapdaemon/internal/awsconf"
)

// A fleet on SQS fans out through an SNS topic: every agent's own queue
// subscribes to it, so that a request published on the topic reaches each
// agent (one queue hands a message to one consumer). TopicClient is the
// requester's side, for "pcapdaemon request -snstopic" and "pcapdaemon
// cancel"; the agents read their queues as usual, and take the SNS
// envelope off what SNS delivers (envelope.go).

// TopicConfig says how to reach an SNS topic.
type TopicConfig struct {
	TopicARN string // arn:aws:sns:<region>:<account>:<name>, required
	Region   string // empty: the ARN's, else the default chain's, else us-east-1
	Endpoint string // full URL of an SNS-compatible server; empty for AWS

	// AccessID and AccessKey are static credentials; both empty means the
	// AWS default chain.
	AccessID, AccessKey string

	// HTTPClient replaces the SDK's HTTP client (tests); nil keeps it.
	HTTPClient *http.Client
}

// TopicClient publishes messages on an SNS topic.
type TopicClient struct {
	cfg    TopicConfig
	client *sns.Client
}

// DialTopic builds a client for cfg's topic; nothing is contacted yet.
func DialTopic(ctx context.Context, cfg TopicConfig) (*TopicClient, error) {
	if !strings.HasPrefix(cfg.TopicARN, "arn:") || strings.Count(cfg.TopicARN, ":") < 5 {
		return nil, fmt.Errorf("sns: topic %q: want an ARN, arn:aws:sns:<region>:<account>:<name>", cfg.TopicARN)
	}
	if cfg.Endpoint != "" {
		if err := checkURL(cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("sns: endpoint: %w", err)
		}
	}
	if (cfg.AccessID == "") != (cfg.AccessKey == "") {
		return nil, errors.New("sns: accessid and accesskey must be set together (or both left empty for the AWS default chain)")
	}
	if cfg.Region == "" {
		cfg.Region = strings.Split(cfg.TopicARN, ":")[3]
	}
	awsCfg, err := awsconf.Load(ctx, awsconf.Settings{Region: cfg.Region, AccessID: cfg.AccessID, AccessKey: cfg.AccessKey})
	if err != nil {
		return nil, fmt.Errorf("sns: load AWS configuration: %w", err)
	}
	client := sns.NewFromConfig(awsCfg, func(o *sns.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	})
	return &TopicClient{cfg: cfg, client: client}, nil
}

// Publish publishes body on the topic and returns the message id SNS gave
// it.
func (c *TopicClient) Publish(ctx context.Context, body []byte) (string, error) {
	out, err := c.client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(c.cfg.TopicARN), Message: aws.String(string(body))})
	if err != nil {
		return "", fmt.Errorf("sns: publish on %s: %w", c.cfg.TopicARN, err)
	}
	return aws.ToString(out.MessageId), nil
}
