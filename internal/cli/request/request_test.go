package request

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

func TestRequestGeneratedIDsDiffer(t *testing.T) {
	now := time.Now()
	a, b := newRequestID(now), newRequestID(now)
	if a == b || !agent.ValidID(a) || !agent.ValidID(b) {
		t.Errorf("ids %q and %q: want two different valid ids", a, b)
	}
}

func TestRequestDefaultWaitTime(t *testing.T) {
	tests := []struct {
		req  agent.Request
		max  time.Duration
		want time.Duration
	}{
		{agent.Request{Duration: 60, Timeout: 15}, time.Hour, 60*time.Second + requestSlack},
		{agent.Request{Timeout: 15}, time.Hour, time.Hour + requestSlack},
		{agent.Request{}, 120 * time.Second, 120*time.Second + requestSlack},
	}
	for _, tt := range tests {
		if got := defaultWaitTime(captureSpan(tt.req, tt.max)); got != tt.want {
			t.Errorf("defaultWaitTime(%+v, max %v) = %v, want %v", tt.req, tt.max, got, tt.want)
		}
	}
}

// result makes a result event for the waiter tests.
func reqResult(id, node, iface string, st agent.Status) resultEvent {
	r := agent.Result{ID: id, Node: node, Interface: iface, Status: st, Packets: 3, Bytes: 300, Locations: []string{}}
	b, _ := json.Marshal(r)
	return resultEvent{raw: b, res: r}
}

func TestWaiter(t *testing.T) {
	const id = "req-1"
	two := agent.Request{ID: id, Node: "h1", Interface: []string{"eth0", "eth1", "eth0"}}
	anyNode := agent.Request{ID: id, Node: "any", Interface: []string{"eth0"}}
	byAlias := agent.Request{ID: id, Node: "h1", Alias: []string{"public"}}
	tests := []struct {
		name     string
		req      agent.Request
		count    int
		nodes    int // expectNodes, as after publishing
		byState  bool
		events   []any
		complete bool // before the deadline
		code     int  // finish's exit status
	}{
		{name: "one node, two interfaces, one result", req: two, events: []any{reqResult(id, "h1", "eth0", agent.StatusOK)}, code: 1},
		{name: "one node, two interfaces, both", req: two,
			events:   []any{reqResult(id, "h1", "eth0", agent.StatusOK), reqResult(id, "h1", "eth1", agent.StatusEmpty)},
			complete: true, code: 0},
		{name: "error result", req: two,
			events:   []any{reqResult(id, "h1", "eth0", agent.StatusOK), reqResult(id, "h1", "eth1", agent.StatusError)},
			complete: true, code: 1},
		{name: "rejected by the node", req: two, events: []any{reqResult(id, "h1", "", agent.StatusRejected)}, complete: true, code: 1},
		{name: "any node, two subscribers", req: anyNode, nodes: 2,
			events:   []any{reqResult(id, "h1", "eth0", agent.StatusOK), reqResult(id, "h2", "eth0", agent.StatusOK)},
			complete: true, code: 0},
		{name: "any node, one of two answered", req: anyNode, nodes: 2,
			events: []any{reqResult(id, "h1", "eth0", agent.StatusOK)}, code: 1},
		{name: "alias: unknown count, results by the deadline", req: byAlias,
			events: []any{reqResult(id, "h1", "eth0", agent.StatusOK)}, code: 0},
		{name: "alias: the HTTP API tells the interfaces", req: byAlias,
			events: []any{
				stateEvent{state: agent.RequestState{ID: id, Phase: agent.PhaseRunning, Interfaces: []string{"eth0", "eth1"}}},
				reqResult(id, "h1", "eth0", agent.StatusOK), reqResult(id, "h1", "eth1", agent.StatusOK),
			},
			complete: true, code: 0},
		{name: "count", req: byAlias, count: 1, events: []any{reqResult(id, "h1", "eth0", agent.StatusOK)}, complete: true, code: 0},
		{name: "nothing", req: two, code: 1},
		{name: "http state done", req: byAlias, byState: true, events: []any{
			stateEvent{own: true, state: agent.RequestState{ID: id, Phase: agent.PhaseRunning, Interfaces: []string{"eth0", "eth1"}}},
			stateEvent{own: true, state: agent.RequestState{ID: id, Phase: agent.PhaseDone, Interfaces: []string{"eth0", "eth1"}},
				results: []json.RawMessage{reqResult(id, "h1", "eth0", agent.StatusOK).raw, reqResult(id, "h1", "eth1", agent.StatusEmpty).raw}},
		}, complete: true, code: 0},
		{name: "http state running", req: byAlias, byState: true, events: []any{
			stateEvent{own: true, state: agent.RequestState{ID: id, Phase: agent.PhaseRunning, Interfaces: []string{"eth0", "eth1"}},
				results: []json.RawMessage{reqResult(id, "h1", "eth0", agent.StatusOK).raw}},
		}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			now := time.Unix(1_700_000_000, 0)
			w := newWaiter(tt.req, time.Minute, tt.count, now, &out, &errb, false)
			w.now = func() time.Time { return now }
			w.byState = tt.byState
			w.expectNodes(tt.nodes)
			for _, ev := range tt.events {
				w.handle(ev)
			}
			if got := w.complete(); got != tt.complete {
				t.Errorf("complete() = %v, want %v", got, tt.complete)
			}
			if got := w.finish(""); got != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", got, tt.code, errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != len(w.results) {
				t.Errorf("stdout has %d lines for %d results:\n%s", len(lines), len(w.results), out.String())
			}
			for _, l := range lines {
				var r agent.Result
				if err := json.Unmarshal([]byte(l), &r); err != nil || r.ID != id {
					t.Errorf("stdout line %q is not a result for %s: %v", l, id, err)
				}
			}
		})
	}
}

func TestWaiterStatus(t *testing.T) {
	const id = "req-2"
	req := agent.Request{ID: id, Node: "h1", Interface: []string{"eth0", "eth1"}}
	now := time.Unix(1_700_000_000, 0)
	clock := now
	var out, errb bytes.Buffer
	w := newWaiter(req, time.Minute, 0, now, &out, &errb, false)
	w.now = func() time.Time { return clock }

	w.showStatus(false)
	w.showStatus(true) // nothing changed, no heartbeat yet
	if n := strings.Count(errb.String(), "\n"); n != 1 {
		t.Fatalf("status printed %d lines, want 1:\n%s", n, errb.String())
	}
	if !strings.Contains(errb.String(), "waiting, 0 of 2 result(s), 0s (gives up in 1m0s)") {
		t.Errorf("status %q", errb.String())
	}
	clock = clock.Add(heartbeat)
	w.showStatus(true)
	if !strings.Contains(errb.String(), "waiting, 0 of 2 result(s), 10s (gives up in 50s)") {
		t.Errorf("no heartbeat after %v: %q", heartbeat, errb.String())
	}
	errb.Reset()
	w.handle(stateEvent{state: agent.RequestState{ID: id, Phase: agent.PhaseRunning, Interfaces: []string{"eth0", "eth1"}}})
	w.showStatus(false)
	w.handle(reqResult(id, "h1", "eth0", agent.StatusOK))
	w.showStatus(false)
	got := errb.String()
	for _, want := range []string{"req-2 eth0: running, 10s", "req-2 eth1: running, 10s", "req-2 h1 eth0: ok, 3 packets, 300 bytes", "waiting, 1 of 2"} {
		if !strings.Contains(got, want) {
			t.Errorf("status does not say %q:\n%s", want, got)
		}
	}

	// On a terminal, the lines are redrawn in place.
	var tty bytes.Buffer
	w = newWaiter(req, time.Minute, 0, now, &out, &tty, true)
	w.now = func() time.Time { return clock }
	w.showStatus(true)
	w.showStatus(true)
	if !strings.Contains(tty.String(), "\x1b[1A\x1b[J") || w.drawn != 1 {
		t.Errorf("terminal status not redrawn in place: %q (drawn %d)", tty.String(), w.drawn)
	}
}

// FuzzRequestMessage checks BuildMessage on any message file: it fails, or
// it returns a message that an agent decodes to the request returned, with
// a valid id.
func FuzzRequestMessage(f *testing.F) {
	f.Add(`{"node":"any","interface":["eth0"]}`, "")
	f.Add(`{"node":"any","alias":["a"],"id":"x"}`, "y")
	f.Add(`{"nodere":"^h","interface":["eth0"],"packets":5,"bpf":"tcp"}`, "")
	f.Add(`{"node":"any","interface":"eth0"}`, "")
	f.Add(`[]`, "")
	f.Fuzz(func(t *testing.T, file, id string) {
		fields := map[string]any{}
		if id != "" {
			fields["id"] = id
		}
		msg, req, err := BuildMessage("-", strings.NewReader(file), fields, time.Unix(0, 0))
		if err != nil {
			if msg != nil {
				t.Fatalf("error %v with a message", err)
			}
			return
		}
		if !agent.ValidID(req.ID) {
			t.Fatalf("request id %q is not valid", req.ID)
		}
		again, err := agent.Decode(msg)
		if err != nil {
			t.Fatalf("message %s does not decode: %v", msg, err)
		}
		if diff := cmp.Diff(req, again); diff != "" {
			t.Fatalf("decoded again (-first +second):\n%s", diff)
		}
	})
}
