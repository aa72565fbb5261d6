package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// fakeNode is what a test agent says about itself; it changes when told.
type fakeNode struct {
	mu   sync.Mutex
	info agent.NodeInfo
}

func (f *fakeNode) get() agent.NodeInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info
}

func (f *fakeNode) set(fn func(*agent.NodeInfo)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.info)
}

func newFakeNode(name string) *fakeNode {
	return &fakeNode{info: agent.NodeInfo{
		Node: name, Version: "test", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Interfaces: []agent.NodeInterface{{Name: "lo", LinkType: "EN10MB"}, {Name: "eth0", LinkType: "EN10MB", Aliases: []string{"main"}}},
		Running:    []agent.RunningRequest{}, MaxDuration: 3600, DefaultTimeout: 10,
	}}
}

// presenceAgent runs a Transport that keeps fn's presence record on o's
// server(s), refreshed every 50ms with a time to live of 400ms.
func presenceAgent(t *testing.T, o Options, n *fakeNode) (*Transport, func() error) {
	t.Helper()
	o.Presence = n.get
	o.PresenceEvery, o.PresenceTTL = 50*time.Millisecond, 400*time.Millisecond
	tr, err := New(o, make(chanSubmitter, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, tr)
	waitState(t, tr, StateUp)
	return tr, stop
}

// waitNodes waits until Nodes lists exactly the names given, and returns
// the list.
func waitNodes(t *testing.T, cl *Client, channel string, names ...string) []Node {
	t.Helper()
	var got []Node
	var err error
	ok := testenv.WaitFor(10*time.Second, func() bool {
		got, err = cl.Nodes(context.Background(), channel)
		if err != nil || len(got) != len(names) {
			return false
		}
		for i, n := range got {
			if n.Node != names[i] || n.Err != nil {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("Nodes(%s) = %+v, %v; want %v", channel, got, err, names)
	}
	return got
}

// TestPresence keeps an agent's presence record on a real redis-server:
// written when the agent subscribes, renewed without being rewritten
// while nothing changes, rewritten when something does, written again
// when the key is lost, moved when the node is renamed, deleted when the
// agent stops. Nodes lists it and no other key.
func TestPresence(t *testing.T) {
	srv := startServer(t)
	o := Options{Addrs: []string{srv.addr()}, Channel: "cap*"}
	cl, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	// Keys a glob "cap*.node.*" would match but that are not this
	// channel's, and a record that is not one.
	for _, k := range []string{"capture.node.other", "capX.node.other"} {
		if err := cl.c.Do(ctx, cl.c.B().Set().Key(k).Value("{}").Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}

	n := newFakeNode("agent1")
	tr, stop := presenceAgent(t, o, n)
	got := waitNodes(t, cl, "cap*", "agent1")
	if got[0].Version != "test" || len(got[0].Interfaces) != 2 || got[0].Interfaces[1].Aliases[0] != "main" {
		t.Errorf("record %+v", got[0])
	}
	if since := time.Since(got[0].LastSeen); since < -time.Second || since > time.Second {
		t.Errorf("last seen %v ago, want about now", since)
	}

	// Renewed past its time to live without being rewritten.
	writes := tr.PresenceWrites()
	deadline := time.Now().Add(1200 * time.Millisecond) // three times the TTL
	for time.Now().Before(deadline) {
		waitNodes(t, cl, "cap*", "agent1")
		time.Sleep(100 * time.Millisecond)
	}
	if w := tr.PresenceWrites(); w != writes {
		t.Errorf("%d writes of an unchanged record, want none (renewals only)", w-writes)
	}

	// A capture starts: rewritten.
	n.set(func(i *agent.NodeInfo) {
		i.Running = append(i.Running, agent.RunningRequest{ID: "r1", Interfaces: []string{"eth0"}, Since: time.Now().UTC()})
	})
	testenv.WaitFor(5*time.Second, func() bool {
		got, _ = cl.Nodes(ctx, "cap*")
		return len(got) == 1 && len(got[0].Running) == 1
	})
	if len(got) != 1 || len(got[0].Running) != 1 || got[0].Running[0].ID != "r1" {
		t.Fatalf("running capture not in the record: %+v", got)
	}

	// The key is lost (a server restart without persistence): written
	// again at the next refresh.
	key := PresenceKey("cap*", "agent1")
	if err := cl.c.Do(ctx, cl.c.B().Del().Key(key).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, cl, "cap*", "agent1")

	// Renamed ([general] hostname reloaded): the old key goes.
	n.set(func(i *agent.NodeInfo) { i.Node = "agent2" })
	waitNodes(t, cl, "cap*", "agent2")

	present, err := cl.Present(ctx, "cap*", []string{"agent1", "agent2"})
	if err != nil || present["agent1"] || !present["agent2"] {
		t.Errorf("Present = %v, %v; want agent2 only", present, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Deleted at once, not when it expires.
	if got, err := cl.Nodes(ctx, "cap*"); err != nil || len(got) != 0 {
		t.Errorf("Nodes after the agent stopped = %+v, %v; want none", got, err)
	}

	// A record that is not one is listed with its error.
	if err := cl.c.Do(ctx, cl.c.B().Set().Key(PresenceKey("cap*", "junk")).Value("not json").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	got, err = cl.Nodes(ctx, "cap*")
	if err != nil || len(got) != 1 || got[0].Node != "junk" || got[0].Err == nil {
		t.Errorf("Nodes with a bad record = %+v, %v", got, err)
	}
}

// TestPresenceCluster keeps the records of several agents on a real
// three-node cluster, where their keys hash to different masters: Nodes,
// through one seed, finds every one with SCAN on each master.
func TestPresenceCluster(t *testing.T) {
	addrs := startCluster(t)
	o := Options{Addrs: addrs[:1], Mode: "cluster", Channel: "capture"}
	var names []string
	for i := range 6 {
		name := fmt.Sprintf("node%d", i)
		names = append(names, name)
		presenceAgent(t, o, newFakeNode(name))
	}
	cl, err := Dial(Options{Addrs: addrs[1:2]})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitNodes(t, cl, "capture", names...)
	present, err := cl.Present(context.Background(), "capture", append(names, "nobody"))
	if err != nil || len(present) != len(names)+1 || present["nobody"] {
		t.Errorf("Present across the cluster = %v, %v", present, err)
	}
	for _, n := range names {
		if !present[n] {
			t.Errorf("%s not present", n)
		}
	}
	// The keys are spread: not all on the server the client was given.
	single, err := Dial(Options{Addrs: addrs[1:2], Mode: "single"})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	keys := map[string]bool{}
	if err := scanKeys(context.Background(), single.c, "capture.node.*", keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) == len(names) {
		t.Errorf("all %d keys on one master: the test does not show the scan of every master", len(keys))
	}
}

// TestPresenceSentinel keeps the record through a sentinel, on the master
// it monitors.
func TestPresenceSentinel(t *testing.T) {
	master := startServer(t, "requirepass pw")
	sentinel := startServer(t,
		fmt.Sprintf("sentinel monitor pcapmaster 127.0.0.1 %d 1", master.port),
		"sentinel auth-pass pcapmaster pw")
	o := Options{Addrs: []string{sentinel.addr()}, Mode: "sentinel", MasterSet: "pcapmaster", Password: "pw", Channel: "capture"}
	_, stop := presenceAgent(t, o, newFakeNode("sentinel-agent"))
	cl, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitNodes(t, cl, "capture", "sentinel-agent")
	direct, err := Dial(Options{Addrs: []string{master.addr()}, Password: "pw", Mode: "single"})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	waitNodes(t, direct, "capture", "sentinel-agent")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, err := direct.Nodes(context.Background(), "capture"); err != nil || len(got) != 0 {
		t.Errorf("Nodes after the agent stopped = %+v, %v; want none", got, err)
	}
}

func TestGlobEscape(t *testing.T) {
	for in, want := range map[string]string{"capture": "capture", "a*b?[c]\\": `a\*b\?\[c\]\\`} {
		if got := globEscape(in); got != want {
			t.Errorf("globEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkPresenceRefresh measures one presence refresh on a real
// redis-server, with a record of 40 interfaces: renewing an unchanged
// record (PEXPIRE), and writing a changed one (SET). Describing the agent
// is agent.BenchmarkNode's.
func BenchmarkPresenceRefresh(b *testing.B) {
	srv := startServer(b)
	n := newFakeNode("bench")
	n.set(func(i *agent.NodeInfo) {
		for k := range 38 {
			i.Interfaces = append(i.Interfaces, agent.NodeInterface{Name: fmt.Sprintf("veth%08x", k), LinkType: "EN10MB"})
		}
	})
	tr, err := New(Options{Addrs: []string{srv.addr()}, Channel: "capture", Presence: n.get}, make(chanSubmitter), nil)
	if err != nil {
		b.Fatal(err)
	}
	cl, err := Dial(Options{Addrs: []string{srv.addr()}})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, bc := range []struct {
		name    string
		changed bool
	}{{"unchanged", false}, {"changed", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var st presenceState
			tr.refreshPresence(ctx, cl.c, &st)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if bc.changed {
					n.set(func(info *agent.NodeInfo) { info.Running = []agent.RunningRequest{{ID: fmt.Sprint(i)}} })
				}
				tr.refreshPresence(ctx, cl.c, &st)
			}
			b.ReportMetric(float64(len(st.body)), "record-bytes")
		})
	}
}

// TestPresenceForbidden runs an agent whose Redis user may publish and
// subscribe but touch no key: it takes requests as before, says once that
// its presence record cannot be written (not at every refresh), and no
// record is listed ("request -wait" then counts the subscribers).
func TestPresenceForbidden(t *testing.T) {
	srv := startServer(t, "user default off", "user agent on >agentpw &* +@all")
	o := Options{Addrs: []string{srv.addr()}, Username: "agent", Password: "agentpw", Channel: "capture"}
	logs := new(testenv.SyncBuffer)
	o.Presence = newFakeNode("noperm").get
	o.PresenceEvery, o.PresenceTTL = 20*time.Millisecond, 400*time.Millisecond
	sub := make(chanSubmitter, 1)
	tr, err := New(o, sub, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	publish(t, o, "capture", "still works")
	expect(t, sub, "still works")
	if !testenv.WaitFor(10*time.Second, func() bool { return strings.Count(logs.String(), "presence record still not written") >= 5 }) {
		t.Fatalf("no refresh attempts logged:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"redis: presence record not written"); n != 1 {
		t.Errorf("%d warnings for the same failure, want 1:\n%s", n, logs.String())
	}
	cl, err := Dial(o)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if nodes, err := cl.Nodes(context.Background(), "capture"); err != nil || len(nodes) != 0 {
		t.Errorf("Nodes = %+v, %v; want none", nodes, err)
	}
}
