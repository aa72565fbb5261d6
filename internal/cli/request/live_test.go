package request

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// These tests run "request -wait" against agents in this process: the
// real agent.Agent behind the real Redis transport (presence record,
// request channel, results channel) on a real redis-server. Only their
// capture sockets are fakes that see no frame.

// quietHandle is a capture handle on a link without traffic.
type quietHandle struct{}

func (quietHandle) ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-t.C:
		return afpacket.Packet{}, os.ErrDeadlineExceeded
	case <-ctx.Done():
		return afpacket.Packet{}, ctx.Err()
	}
}
func (quietHandle) Stats() (afpacket.Stats, error) { return afpacket.Stats{}, nil }
func (quietHandle) LinkType() uint32               { return 1 }
func (quietHandle) Snaplen() int                   { return 65535 }
func (quietHandle) Close() error                   { return nil }

// liveAgent runs an agent named name with interfaces ifaces on the Redis
// server at addr, channel "live", until the test's end.
func liveAgent(t *testing.T, addr, name string, ifaces ...string) *agent.Agent {
	t.Helper()
	lookup := func(n string) (agent.InterfaceInfo, error) {
		for _, in := range ifaces {
			if in == n {
				return agent.InterfaceInfo{LinkType: 1}, nil
			}
		}
		return agent.InterfaceInfo{}, os.ErrNotExist
	}
	hostIfaces := func() ([]agent.HostInterface, error) {
		var out []agent.HostInterface
		for _, in := range ifaces {
			out = append(out, agent.HostInterface{Name: in, LinkType: 1})
		}
		return out, nil
	}
	var ag *agent.Agent
	tr, err := redis.New(redis.Options{Addrs: []string{addr}, Channel: "live", PresenceEvery: 100 * time.Millisecond,
		PresenceTTL: time.Second, Presence: func() agent.NodeInfo { return ag.Node() }},
		transport.SubmitterFunc(func(ctx context.Context, msg []byte, src string) (string, error) { return ag.Submit(ctx, msg, src) }), nil)
	if err != nil {
		t.Fatal(err)
	}
	ag, err = agent.New(agent.Config{Hostname: name, MaxDuration: 60 * time.Second},
		agent.WithOpener(func(string, afpacket.Config) (agent.Handle, error) { return quietHandle{}, nil }),
		agent.WithInterfaceLookup(lookup), agent.WithHostInterfaces(hostIfaces), agent.WithPublishers(tr))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tr.Run(ctx) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = ag.Shutdown(sctx)
		cancel()
		<-done
	})
	return ag
}

// waitPresent waits until the agents named have their presence record.
func waitPresent(t *testing.T, addr string, names ...string) {
	t.Helper()
	cl, err := redis.Dial(redis.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if !testenv.WaitFor(10*time.Second, func() bool {
		p, err := cl.Present(context.Background(), "live", names)
		for _, n := range names {
			if err != nil || !p[n] {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("agents %v not present", names)
	}
}

type liveRun struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// runLive runs "request -redis addr -redischannel live args..." with
// interrupted as its first Ctrl-C.
func runLive(t *testing.T, addr string, interrupted <-chan struct{}, o Options) liveRun {
	t.Helper()
	o.Transport = TransportFlags{Given: map[string]string{"redis": addr, "redischannel": "live"}}
	var out, errb testenv.SyncBuffer
	c := &Command{Stdout: &out, Stderr: &errb, Now: time.Now, Interrupted: interrupted, PresenceEvery: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	code := c.Run(ctx, o)
	return liveRun{code: code, stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
}

// TestWaitForPresentAgents: two agents present, a request for one of
// them. -wait says whom it waits for, and ends as soon as that agent's
// results are in; a request no agent matches is not published.
func TestWaitForPresentAgents(t *testing.T) {
	srv := testenv.StartRedis(t)
	liveAgent(t, srv.Addr, "nodea", "eth0", "eth1")
	liveAgent(t, srv.Addr, "nodeb", "eth0")
	waitPresent(t, srv.Addr, "nodea", "nodeb")

	r := runLive(t, srv.Addr, nil, Options{Wait: true, Fields: map[string]any{
		"nodere": "^nodea$", "interface": []string{"eth0", "eth1"}, "timeout": 1, "duration": 30}})
	if r.code != 0 || strings.Count(r.stdout, "\n") != 2 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "1 of 2 agent(s) present take it, 2 result(s) expected: nodea (eth0, eth1)") {
		t.Errorf("stderr does not say whom it waits for:\n%s", r.stderr)
	}
	// The captures end after 1s without a packet: the command ends then,
	// not at its 60s deadline.
	if r.took > 10*time.Second {
		t.Errorf("took %v", r.took)
	}

	r = runLive(t, srv.Addr, nil, Options{Wait: true, Fields: map[string]any{"node": "nodez", "interface": []string{"eth0"}}})
	if r.code != 1 || !strings.Contains(r.stderr, `no live agent matches node "nodez" (present: nodea, nodeb); not published`) {
		t.Errorf("no match: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	// An alias nodeb does not have: its rejection is expected, and counted.
	r = runLive(t, srv.Addr, nil, Options{Wait: true, Fields: map[string]any{"node": "any", "interface": []string{"eth1"}, "timeout": 1}})
	if r.code != 1 || !strings.Contains(r.stderr, "nodeb (will reject it") || !strings.Contains(r.stderr, "2 result(s) (1 empty, 1 rejected)") {
		t.Errorf("one rejects: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestWaitMissingAgent: an agent taken for the request goes away (its
// record deleted at its shutdown, as when it is stopped for good) with a
// capture that never ends: -wait reports it missing, at once rather than
// at the deadline, and exits 1.
func TestWaitMissingAgent(t *testing.T) {
	srv := testenv.StartRedis(t)
	liveAgent(t, srv.Addr, "nodea", "eth0")
	// nodeb keeps a presence record but answers nothing: its transport
	// takes no request.
	o := redis.Options{Addrs: []string{srv.Addr}, Channel: "live", PresenceEvery: 100 * time.Millisecond, PresenceTTL: time.Second,
		Presence: func() agent.NodeInfo {
			return agent.NodeInfo{Node: "nodeb", Interfaces: []agent.NodeInterface{{Name: "eth0"}}, Running: []agent.RunningRequest{}}
		}}
	got := make(chan struct{}, 1)
	tr, err := redis.New(o, transport.SubmitterFunc(func(context.Context, []byte, string) (string, error) {
		select {
		case got <- struct{}{}:
		default:
		}
		return "", agent.ErrNotForNode
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tr.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitPresent(t, srv.Addr, "nodea", "nodeb")
	go func() {
		<-got // nodeb goes away once the request is out
		cancel()
	}()
	r := runLive(t, srv.Addr, nil, Options{Wait: true, Fields: map[string]any{"node": "any", "interface": []string{"eth0"}, "timeout": 1}})
	if r.code != 1 || !strings.Contains(r.stderr, "agent nodeb is gone") || !strings.Contains(r.stderr, "missing: nodeb") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r.took > 15*time.Second {
		t.Errorf("took %v to call nodeb missing", r.took)
	}
}

// TestWaitInterrupted: Ctrl-C while waiting for a capture that would run
// for a minute cancels it on the agent; the command waits for its final
// result (stop reason cancelled) and exits 0.
func TestWaitInterrupted(t *testing.T) {
	srv := testenv.StartRedis(t)
	ag := liveAgent(t, srv.Addr, "nodea", "eth0")
	waitPresent(t, srv.Addr, "nodea")
	interrupted := make(chan struct{})
	go func() {
		// Ctrl-C once the capture runs.
		testenv.WaitFor(30*time.Second, func() bool { return len(ag.Node().Running) > 0 })
		close(interrupted)
	}()
	r := runLive(t, srv.Addr, interrupted, Options{Wait: true, Fields: map[string]any{"node": "nodea", "interface": []string{"eth0"}, "duration": 60, "timeout": 60}})
	if r.code != 0 || !strings.Contains(r.stdout, `"stop_reason":"cancelled"`) || !strings.Contains(r.stderr, "; cancelled") {
		t.Errorf("exit %d, stdout %s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r.took > 15*time.Second {
		t.Errorf("took %v", r.took)
	}
}
