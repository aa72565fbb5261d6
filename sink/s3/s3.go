package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/awsconf"
	"github.com/pcapdaemon/pcapdaemon/internal/readerat"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
)

// Sink uploads captures to S3. It implements agent.Sink and is safe for
// concurrent use.
type Sink struct {
	cfg    Config
	region string // the configured (or default-chain) region
	client *s3.Client
	log    *slog.Logger
}

// New checks cfg and builds the S3 client. Credentials come from cfg when
// given, else from the AWS default chain; nothing is contacted yet.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	awsCfg, err := awsconf.Load(ctx, awsconf.Settings{Region: cfg.Region, AccessID: cfg.AccessID, AccessKey: cfg.AccessKey})
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	s := &Sink{cfg: cfg, region: awsCfg.Region, log: log.With("sink", "s3")}
	s.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.HTTPClient != nil {
			// Set on the client, not through LoadDefaultConfig, which
			// would try to add AWS_CA_BUNDLE to it and fail.
			o.HTTPClient = cfg.HTTPClient
		}
		o.HTTPClient = attemptTimeout(o.HTTPClient, cfg.Timeout)
		o.Retryer = newRetryer(cfg.Retry)
	})
	return s, nil
}

// Name returns "s3".
func (s *Sink) Name() string { return "s3" }

// Check returns the *RefusedError that Deliver would return for req's
// overrides, so that a request can be rejected before anything is captured.
func (s *Sink) Check(req agent.Request) error {
	_, err := s.resolve(req)
	return err
}

// Deliver uploads c to <bucket>/<folder>/<file name> and returns
// s3://bucket/key. A refused override returns a *RefusedError before any
// network traffic.
func (s *Sink) Deliver(ctx context.Context, c *agent.Capture) (string, error) {
	if c == nil || c.Data == nil {
		return "", errors.New("s3: capture without data")
	}
	if c.FileName == "" {
		return "", fmt.Errorf("s3: capture %q has no file name", c.ID)
	}
	t, err := s.resolve(c.Request)
	if err != nil {
		return "", err
	}
	key := t.key(c.FileName)
	up := &upload{
		s:      s,
		t:      t,
		key:    key,
		size:   c.Data.Len(),
		data:   readerat.New(c.Data.NewReader()),
		meta:   metadata(c),
		ctype:  contentType(c.Format),
		optFns: append(t.optFns(), s.notifyRetries(t.location(key))),
	}
	if up.size <= s.cfg.MultipartThreshold {
		err = up.put(ctx)
	} else {
		err = up.multipart(ctx)
	}
	if err != nil {
		return "", fmt.Errorf("s3: upload %s: %w", t.location(key), err)
	}
	s.log.Info("uploaded", "location", t.location(key), "bytes", up.size, "id", c.ID)
	return t.location(key), nil
}

// optFns returns the per-call client options for the target's endpoint
// and region: path-style addressing for an explicit endpoint.
func (t target) optFns() []func(*s3.Options) {
	return []func(*s3.Options){func(o *s3.Options) {
		o.Region = t.region
		if t.endpoint != awsEndpoint {
			o.BaseEndpoint = aws.String(t.endpoint)
			o.UsePathStyle = true
		} else if t.pathAWS {
			o.UsePathStyle = true
		}
	}}
}

// notifyRetries returns the per-call option that logs the retries of the
// upload to loc: the client's retryer (and its quota) seen through
// notifyRetries.
func (s *Sink) notifyRetries(loc string) func(*s3.Options) {
	notify := retry.Log(s.log, "location", loc)
	return func(o *s3.Options) {
		if r, ok := o.Retryer.(aws.RetryerV2); ok {
			o.Retryer = notifyRetries{RetryerV2: r, notify: notify}
		}
	}
}

// contentType is the media type of a capture format.
func contentType(format string) string {
	if format == "pcapng" {
		return "application/x-pcapng"
	}
	return "application/vnd.tcpdump.pcap"
}
