package s3

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
)

// TestSecretNeverShown uploads to a real S3 server with a wrong secret key
// (refused: SignatureDoesNotMatch) and to a server that is down (retried,
// so that warnings are logged), single put and multipart: the secret
// access key appears in no error and no log line.
func TestSecretNeverShown(t *testing.T) {
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	const wrong = "wrong-secret-key-for-this-test"
	tests := []struct {
		name     string
		secret   string
		endpoint string
	}{
		{"wrong secret", wrong, gw.Endpoint},
		{"server down", gw.Secret, "http://" + closedAddr(t)},
		{"server down, wrong secret", wrong, "http://" + closedAddr(t)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := Config{
				Bucket: "captures", Folder: "pcaps", Region: "us-east-1", Endpoint: tt.endpoint,
				AccessID: gw.Access, AccessKey: tt.secret, PartSize: MinPartSize, Retry: fastRetry,
			}
			s, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			for j, size := range []int{8 << 10, 12 << 20} { // single put, multipart
				_, err = s.Deliver(context.Background(), sinktest.Capture("secret-"+strings.Repeat("x", i+j), sinktest.Pcap(size, uint64(i))))
				if err == nil {
					t.Fatal("Deliver succeeded")
				}
				if strings.Contains(err.Error(), tt.secret) {
					t.Errorf("the error shows the secret key: %v", err)
				}
			}
			if strings.HasPrefix(tt.name, "server down") && !strings.Contains(logs.String(), "retrying") {
				t.Errorf("no retry warning logged:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), tt.secret) {
				t.Errorf("the log shows the secret key:\n%s", logs.String())
			}
		})
	}
}
