package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/cli/request"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// runAgent keeps info's presence record on the server at addr (as an
// agent's Redis transport does) until the test ends.
func runAgent(t *testing.T, addr, channel string, info agent.NodeInfo) {
	t.Helper()
	o := redis.Options{Addrs: []string{addr}, Channel: channel, Presence: func() agent.NodeInfo { return info }}
	tr, err := redis.New(o, transport.SubmitterFunc(func(context.Context, []byte, string) (string, error) { return "", nil }), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tr.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func run(t *testing.T, o Options) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &Command{Stdout: &out, Stderr: &errb, Now: time.Now}
	code := c.Run(context.Background(), o)
	return code, out.String(), errb.String()
}

// TestNodesCommand lists two agents' presence records from a real
// redis-server, as a table and as JSON.
func TestNodesCommand(t *testing.T) {
	srv := testenv.StartRedis(t)
	started := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	runAgent(t, srv.Addr, "fleet", agent.NodeInfo{Node: "nodeb", Version: "1.2.3", Started: started,
		Interfaces: []agent.NodeInterface{{Name: "lo", LinkType: "EN10MB"}, {Name: "eth0", LinkType: "EN10MB", Aliases: []string{"main", "public"}},
			{Name: "eth9", Aliases: []string{"main"}, Absent: true}},
		Running: []agent.RunningRequest{{ID: "r-1", Interfaces: []string{"eth0"}, Since: started}}})
	runAgent(t, srv.Addr, "fleet", agent.NodeInfo{Node: "nodea", Version: "1.2.3", Started: started,
		Interfaces: []agent.NodeInterface{{Name: "lo", LinkType: "EN10MB"}}, Running: []agent.RunningRequest{}})
	runAgent(t, srv.Addr, "elsewhere", agent.NodeInfo{Node: "nodec"})

	flags := request.TransportFlags{Given: map[string]string{"redis": srv.Addr, "redischannel": "fleet"}}
	var out string
	ok := testenv.WaitFor(10*time.Second, func() bool {
		_, out, _ = run(t, Options{Transport: flags})
		return strings.Count(out, "\n") == 3
	})
	if !ok {
		t.Fatalf("table:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, want := range [][]string{
		{"NODE", "VERSION", "INTERFACES", "RUNNING", "LAST SEEN"},
		{"nodea", "1.2.3", "lo", "0", "s ago"},
		{"nodeb", "1.2.3", "eth0(main,public) eth9!(main) lo", "1 (r-1)", "s ago"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q does not say %q", i, lines[i], w)
			}
		}
	}

	code, js, stderr := run(t, Options{Transport: flags, JSON: true})
	if code != 0 {
		t.Fatalf("-json: exit %d, %s", code, stderr)
	}
	var recs []struct {
		agent.NodeInfo
		LastSeen time.Time `json:"last_seen"`
		Key      string    `json:"key"`
	}
	if err := json.Unmarshal([]byte(js), &recs); err != nil {
		t.Fatalf("-json output %q: %v", js, err)
	}
	if len(recs) != 2 || recs[1].Node != "nodeb" || recs[1].Key != "fleet.node.nodeb" || !recs[1].Started.Equal(started) ||
		len(recs[1].Interfaces) != 3 || recs[1].Running[0].ID != "r-1" || time.Since(recs[1].LastSeen) > time.Minute {
		t.Errorf("-json records %+v", recs)
	}

	code, out, stderr = run(t, Options{Transport: request.TransportFlags{Given: map[string]string{"redis": srv.Addr, "redischannel": "empty"}}})
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(stderr, "no agent") {
		t.Errorf("no agents: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, _, stderr = run(t, Options{Transport: request.TransportFlags{Given: map[string]string{"redis": "127.0.0.1:1"}}})
	if code != 1 {
		t.Errorf("unreachable server: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := run(t, Options{Transport: request.TransportFlags{Given: map[string]string{}}}); code != 2 {
		t.Errorf("no server: exit %d, want 2", code)
	}
}

func TestTableInterfaces(t *testing.T) {
	var many []agent.NodeInterface
	for i := range 10 {
		many = append(many, agent.NodeInterface{Name: fmt.Sprintf("veth%d", i)})
	}
	many = append(many, agent.NodeInterface{Name: "eth0", Aliases: []string{"main"}})
	if got, want := interfaces(redis.Node{NodeInfo: agent.NodeInfo{Interfaces: many}}), "eth0(main) veth0 veth1 veth2 veth3 veth4 +5 more"; got != want {
		t.Errorf("interfaces = %q, want %q", got, want)
	}
	now := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		t    time.Time
		want string
	}{{now.Add(-2400 * time.Millisecond), "2s ago"}, {now.Add(time.Second), "0s ago"}, {time.Time{}, "?"}} {
		if got := lastSeen(tt.t, now); got != tt.want {
			t.Errorf("lastSeen(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
