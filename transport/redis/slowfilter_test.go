package redis

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// dnsResolver is bpfcompile's default resolver with host names sent to a
// given DNS server.
type dnsResolver struct {
	bpfcompile.Resolver
	dns *net.Resolver
}

func (r dnsResolver) LookupHost(ctx context.Context, name string) ([]net.IP, error) {
	addrs, err := r.dns.LookupIPAddr(ctx, name)
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, err
}

// discardSink takes every capture and keeps nothing.
type discardSink struct{}

func (discardSink) Name() string { return "discard" }
func (discardSink) Deliver(context.Context, *agent.Capture) (string, error) {
	return "discard://", nil
}

// TestSlowFiltersDoNotDelayOthers runs the Redis transport in front of a
// real agent capturing on a veth pair, whose filter names go to a DNS
// server that never answers. Six requests naming such hosts are published,
// then a normal one: the normal one's result (its capture ends after a 1s
// inactivity timeout) arrives without waiting for the slow ones, each of
// which is rejected once its name lookup times out.
func TestSlowFiltersDoNotDelayOthers(t *testing.T) {
	pair := netns.NewVethPair(t)
	srv := startServer(t)
	dns := testenv.StartSilentDNS(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "capture", Node: func() string { return "cap1" }}
	var ag *agent.Agent
	tr, err := New(o, agentSubmitter{&ag}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ag, err = agent.New(agent.Config{Hostname: "cap1"},
		agent.WithResolver(dnsResolver{bpfcompile.DefaultResolver(), dns.Resolver()}),
		agent.WithSinks(discardSink{}), agent.WithPublishers(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ag.Shutdown(ctx)
	})
	running(t, tr)
	waitState(t, tr, StateUp)
	results := resultsOn(t, o, "capture.results")

	const slow = 6
	start := time.Now()
	for i := range slow {
		publish(t, o, "capture", fmt.Sprintf(`{"id":"slow%d","node":"cap1","interface":[%q],"bpf":"host slow%d.example.net","timeout":1}`, i, pair.Host, i))
	}
	normalAt := time.Now()
	publish(t, o, "capture", fmt.Sprintf(`{"id":"normal","node":"cap1","interface":[%q],"bpf":"udp and dst port 9","timeout":1}`, pair.Host))
	var normal agent.Result
	got := map[string]agent.Result{}
	for len(got) < slow+1 {
		select {
		case r := <-results:
			got[r.ID] = r
			if r.ID == "normal" {
				normal = r
				t.Logf("normal request's result %v after it was published (its capture's inactivity timeout is 1s), behind %d filters with slow names",
					time.Since(normalAt).Round(time.Millisecond), slow)
				if d := time.Since(normalAt); d > 4*time.Second {
					t.Errorf("normal request's result after %v, want it within 4s", d)
				}
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("results after 30s: %v", keys(got))
		}
	}
	t.Logf("all %d results %v after the first request", slow+1, time.Since(start).Round(time.Millisecond))
	if normal.Status != agent.StatusEmpty || normal.StopReason != agent.StopTimeout {
		t.Errorf("normal result %+v, want an empty capture ended by its timeout", normal)
	}
	for i := range slow {
		r := got[fmt.Sprintf("slow%d", i)]
		if r.Status != agent.StatusRejected || !strings.Contains(r.Error, fmt.Sprintf(`"slow%d.example.net"`, i)) ||
			!strings.Contains(r.Error, "no answer") {
			t.Errorf("slow%d: result %+v, want rejected for the name's lookup", i, r)
		}
	}
	if dns.Queries() == 0 {
		t.Error("the DNS server got no query")
	}
}

// agentSubmitter submits to the agent it points to, set once both exist
// (the agent publishes through the transport, the transport submits to it).
type agentSubmitter struct{ a **agent.Agent }

func (s agentSubmitter) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	return (*s.a).Submit(ctx, msg, source)
}
