package sqs

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	s3sink "github.com/pcapdaemon/pcapdaemon/sink/s3"
)

type submitFunc func(ctx context.Context, msg []byte, source string) (string, error)

func (f submitFunc) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	return f(ctx, msg, source)
}

// TestEndToEnd wires the real parts: a request on an SQS queue (goaws),
// this transport, the agent capturing with AF_PACKET on a veth, the S3 sink
// uploading to versitygw, the result on the SQS result queue. The same
// message is delivered twice: it is captured once and both copies are
// deleted.
func TestEndToEnd(t *testing.T) {
	g := startGoaws(t, 2)
	qurl := g.createQueue(t, "e2e-requests", 2)
	rurl := g.createQueue(t, "e2e-results", 30)
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	s3c := gw.Client()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sink, err := s3sink.New(context.Background(), s3sink.Config{Bucket: "captures", Folder: "pcaps", Region: "us-east-1",
		Endpoint: gw.Endpoint, AccessID: gw.Access, AccessKey: gw.Secret}, log)
	if err != nil {
		t.Fatal(err)
	}
	var ag *agent.Agent
	q, err := New(context.Background(), Config{
		QueueURL: qurl, ResultsURL: rurl, Endpoint: g.Endpoint, Protocol: "query", AccessID: "x", AccessKey: "y", WaitSeconds: 1,
	}, submitFunc(func(ctx context.Context, msg []byte, src string) (string, error) { return ag.Submit(ctx, msg, src) }), log)
	if err != nil {
		t.Fatal(err)
	}
	ag, err = agent.New(agent.Config{Hostname: "e2e-node"}, agent.WithSinks(sink), agent.WithPublishers(q), agent.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ag.Shutdown(ctx)
	})

	req := `{"id":"e2e-1","node":"e2e-node","interface":["` + g.Link.HostLink + `"],"bpf":"udp and dst port 9999",` +
		`"packets":5,"timeout":10,"duration":20,"customer":"acme","tags":"e2e"}`
	g.send(t, qurl, req)
	g.send(t, qurl, req) // SQS delivers at least once
	stop := runQueue(t, q)

	// Traffic to the namespace's end of the veth, until the result is in
	// (bounded: at most 15 s, one datagram every 20 ms).
	conn, err := net.Dial("udp", net.JoinHostPort(g.Link.NSAddr, "9999"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var results []agent.Result
	deadline := time.Now().Add(15 * time.Second)
	for len(results) == 0 && time.Now().Before(deadline) {
		for range 10 {
			conn.Write([]byte("pcapdaemon e2e"))
			time.Sleep(20 * time.Millisecond)
		}
		for _, b := range g.receiveAll(t, rurl) {
			var r agent.Result
			if err := json.Unmarshal([]byte(b), &r); err != nil {
				t.Fatalf("result %q: %v", b, err)
			}
			results = append(results, r)
		}
	}
	if len(results) == 0 {
		t.Fatal("no result on the result queue within 15s")
	}
	// The duplicate must not produce a second capture or result.
	time.Sleep(3 * time.Second)
	for _, b := range g.receiveAll(t, rurl) {
		t.Errorf("second result: %s", b)
	}
	stop()
	r := results[0]
	if r.ID != "e2e-1" || r.Status != agent.StatusOK || r.Packets != 5 || len(r.Locations) != 1 {
		t.Fatalf("result %+v, want e2e-1 ok with 5 packets and one location", r)
	}
	key, ok := strings.CutPrefix(r.Locations[0], "s3://captures/")
	if !ok || !strings.HasPrefix(key, "pcaps/") {
		t.Fatalf("location %q", r.Locations[0])
	}
	list, err := s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("captures")})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("bucket holds %d objects (%v), want exactly 1", len(list.Contents), err)
	}
	obj, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("captures"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	if obj.Metadata["requestid"] != "e2e-1" || obj.Metadata["customer"] != "acme" || !strings.Contains(obj.Metadata["tags"], "e2e") {
		t.Errorf("metadata %v", obj.Metadata)
	}
	f := filepath.Join(t.TempDir(), "e2e.pcap")
	fh, _ := os.Create(f)
	if _, err := fh.ReadFrom(obj.Body); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	out, err := exec.Command("tcpdump", "-nn", "-r", f).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "> "+g.Link.NSAddr+".9999: UDP"); n != 5 {
		t.Errorf("tcpdump read %d datagrams to port 9999, want 5:\n%s", n, out)
	}
	// Both copies of the request were deleted.
	time.Sleep(3 * time.Second)
	if left := g.receiveAll(t, qurl); len(left) != 0 {
		t.Errorf("request queue still holds %d messages", len(left))
	}
	t.Logf("result: %s %s packets=%d location=%s", r.Status, r.StopReason, r.Packets, r.Locations[0])
}
