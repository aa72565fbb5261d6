package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/awsconf"
	"github.com/pcapdaemon/pcapdaemon/internal/readerat"
	"github.com/pcapdaemon/pcapdaemon/sink/retry"
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
	// Retries are ours (sink/retry), so that attempts stay bounded and
	// classified alike for every sink.
	awsCfg, err := awsconf.Load(ctx, awsconf.Settings{Region: cfg.Region, AccessID: cfg.AccessID, AccessKey: cfg.AccessKey},
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))
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
		return "", retry.Permanent(errors.New("s3: capture without data"))
	}
	if c.FileName == "" {
		return "", retry.Permanent(fmt.Errorf("s3: capture %q has no file name", c.ID))
	}
	t, err := s.resolve(c.Request)
	if err != nil {
		return "", retry.Permanent(err)
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
		optFns: t.optFns(),
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

// contentType is the media type of a capture format.
func contentType(format string) string {
	if format == "pcapng" {
		return "application/x-pcapng"
	}
	return "application/vnd.tcpdump.pcap"
}

// transient reports whether an S3 call's failure is worth another try:
// 5xx, 408, 429 and S3's throttling and timeout codes, or a network failure
// with no reply. Every other reply (403, 404 NoSuchBucket, ...) is permanent.
func transient(err error) bool {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		if retry.HTTPStatusTransient(re.HTTPStatusCode()) {
			return true
		}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			switch ae.ErrorCode() {
			case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
				"Throttling", "ThrottlingException", "RequestThrottled":
				return true
			}
		}
		return false
	}
	return retry.NetworkTransient(err)
}
