package spool_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/sink/s3"
	"github.com/pcapdaemon/pcapdaemon/sink/spool"
)

// TestSpoolS3ServerDown stops the S3 server, delivers (the capture is
// spooled), starts the server again and retries: the object arrives byte
// for byte and the spool empties.
func TestSpoolS3ServerDown(t *testing.T) {
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	sink, err := s3.New(context.Background(), s3.Config{
		Bucket: "captures", Region: "us-east-1", Endpoint: gw.Endpoint, AccessID: gw.Access, AccessKey: gw.Secret,
		Retry: retry.Policy{Attempts: 2, Initial: 10 * time.Millisecond},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.New(spool.Config{Dir: t.TempDir()}, []agent.Sink{sink}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := sinktest.Pcap(300<<10, 21)
	c := sinktest.Capture("spooled", data)

	gw.Stop()
	_, err = sp.Deliver(context.Background(), c)
	var se *spool.SpooledError
	if !errors.As(err, &se) {
		t.Fatalf("Deliver with the server down = %v, want a SpooledError", err)
	}
	t.Logf("while down: %v", err)

	gw.Restart(t)
	if n := sp.RetryAll(context.Background()); n != 1 {
		es, _ := sp.Entries()
		t.Fatalf("RetryAll delivered %d entries; left %+v", n, es)
	}
	if got := gw.GetObject(t, "captures", c.FileName).Body; !bytes.Equal(got, data) {
		t.Fatalf("object from the spool differs (%d vs %d bytes)", len(got), len(data))
	}
	if es, _ := sp.Entries(); len(es) != 0 {
		t.Errorf("spool not empty: %+v", es)
	}
}
