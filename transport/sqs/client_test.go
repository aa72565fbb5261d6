package sqs

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestClient drives the requester's Client against goaws: Send puts the
// request on the request queue; Results hands every result message to
// take, deletes the ones taken and releases the others for whoever waits
// for them.
func TestClient(t *testing.T) {
	g := startGoaws(t, 30)
	qurl := g.createQueue(t, "client-requests", 30)
	rurl := g.createQueue(t, "client-results", 30)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{QueueURL: qurl, ResultsURL: rurl, Endpoint: g.Endpoint, Protocol: "query", AccessID: "x", AccessKey: "y"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Send(ctx, []byte(`{"node":"any","interface":["lo"],"id":"c1"}`))
	if err != nil || id == "" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	if got := g.receiveAll(t, qurl); !slices.Equal(got, []string{`{"node":"any","interface":["lo"],"id":"c1"}`}) {
		t.Errorf("request queue holds %q", got)
	}

	g.send(t, rurl, "mine")
	g.send(t, rurl, "theirs")
	var mu sync.Mutex
	seen := map[string]int{}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Results(rctx, func(body []byte) bool {
			mu.Lock()
			defer mu.Unlock()
			seen[string(body)]++
			return string(body) == "mine"
		})
	}()
	// "theirs" is released at once and so seen again; "mine" only once.
	ok := testenv.WaitFor(20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen["theirs"] >= 2
	})
	stop()
	if err := <-done; err != nil {
		t.Errorf("Results = %v, want nil once its context ends", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !ok || seen["mine"] != 1 {
		t.Errorf("messages seen %v: want mine once, theirs again and again", seen)
	}
	if n := g.Pending(t, rurl); n != 1 {
		t.Errorf("%d messages left on the results queue, want 1 (theirs)", n)
	}
}

// TestDialRegion: a client's region comes from an AWS queue URL when none
// is given, as the daemon's does.
func TestDialRegion(t *testing.T) {
	c, err := Dial(context.Background(), Config{QueueURL: "https://sqs.eu-west-3.amazonaws.com/1/q", AccessID: "x", AccessKey: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Region != "eu-west-3" {
		t.Errorf("region %q, want eu-west-3", c.cfg.Region)
	}
	if _, err := Dial(context.Background(), Config{}); err == nil {
		t.Error("Dial without a queue URL succeeded")
	}
}
