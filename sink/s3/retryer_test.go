package s3

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// TestAttemptTimeout: every HTTP client the sink may get ends up bounding
// each request by the configured timeout, unless it has a timeout of its
// own; the caller's client is never changed.
func TestAttemptTimeout(t *testing.T) {
	const d = 7 * time.Second
	timeout := func(c aws.HTTPClient) time.Duration {
		switch c := c.(type) {
		case *awshttp.BuildableClient:
			return c.GetTimeout()
		case *http.Client:
			return c.Timeout
		}
		t.Fatalf("client %T", c)
		return 0
	}
	plain := &http.Client{}
	own := &http.Client{Timeout: time.Second}
	tests := []struct {
		name string
		in   aws.HTTPClient
		want time.Duration
	}{
		{"none: the SDK's client", nil, d},
		{"SDK client", awshttp.NewBuildableClient(), d},
		{"SDK client with a timeout", awshttp.NewBuildableClient().WithTimeout(time.Minute), time.Minute},
		{"caller's client", plain, d},
		{"caller's client with a timeout", own, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := timeout(attemptTimeout(tt.in, d)); got != tt.want {
				t.Errorf("timeout %v, want %v", got, tt.want)
			}
		})
	}
	if plain.Timeout != 0 {
		t.Errorf("the caller's client was changed: timeout %v", plain.Timeout)
	}
}
