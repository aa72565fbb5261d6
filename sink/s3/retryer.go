package s3

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/pcapdaemon/pcapdaemon/internal/retry"
)

// newRetryer returns the SDK's standard retryer paced by p: p.Attempts
// tries per call, waits drawn below p.Initial doubling up to p.Max (the
// SDK's full-jitter backoff, which starts throttling replies at 1s), and
// the SDK's retry quota shared by the sink's calls, so that an S3 outage
// does not turn every upload into a burst of retries.
//
// The SDK decides what is transient (5xx, throttling and timeout codes,
// broken connections), with one exception: a server certificate that does
// not verify, which the SDK counts as a connection error and would retry,
// is final (retry.BadCertificate).
func newRetryer(p retry.Policy) *awsretry.Standard {
	return awsretry.NewStandard(func(o *awsretry.StandardOptions) {
		o.MaxAttempts = p.Attempts
		o.BaseDelay = p.Initial
		o.MaxBackoff = p.Max
		o.Retryables = append([]awsretry.IsErrorRetryable{awsretry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if retry.BadCertificate(err) {
				return aws.FalseTernary
			}
			return aws.UnknownTernary
		})}, o.Retryables...)
	})
}

// notifyRetries is the sink's retryer as one upload sees it: the same
// retryer (and quota), telling notify of every retry it makes, so that the
// log names the upload.
type notifyRetries struct {
	aws.RetryerV2
	notify retry.Notify
}

// RetryDelay returns the SDK's wait before the next attempt and tells
// notify. attempt is the number of the attempt that failed.
func (r notifyRetries) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr == nil && r.notify != nil {
		r.notify(err, attempt, d)
	}
	return d, derr
}

// attemptTimeout returns c with every request, that is every attempt of a
// call, bounded by d: a hung attempt fails as a timeout, which the
// retryer may try again (a deadline on the call's context would end the
// call instead). A client with its own timeout keeps it.
func attemptTimeout(c aws.HTTPClient, d time.Duration) aws.HTTPClient {
	switch c := c.(type) {
	case nil:
		return awshttp.NewBuildableClient().WithTimeout(d)
	case *awshttp.BuildableClient:
		if c.GetTimeout() == 0 {
			return c.WithTimeout(d)
		}
	case *http.Client:
		if c.Timeout == 0 {
			cc := *c
			cc.Timeout = d
			return &cc
		}
	}
	return c
}
