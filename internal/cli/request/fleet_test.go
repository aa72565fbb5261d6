package request

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// TestWaiterFleet waits for the agents the presence records named: it is
// complete when each sent its results (or its rejection), not before, not
// for a stranger's result; an agent gone from presence missingAfter checks
// in a row is missing, and the exit status says so.
func TestWaiterFleet(t *testing.T) {
	const id = "req-f"
	req := agent.Request{ID: id, NodeRE: ".", Interface: []string{"eth0"}}
	fleet := []agent.Expectation{
		{Node: "a", Interfaces: []string{"eth0", "eth1"}},
		{Node: "b", Interfaces: []string{"eth0"}},
	}
	withC := append(fleet, agent.Expectation{Node: "c", Reject: errors.New("no interface")})
	all := map[string]bool{"a": true, "b": true}
	noB := map[string]bool{"a": true}
	res := func(node, iface string, st agent.Status) resultEvent { return reqResult(id, node, iface, st) }
	tests := []struct {
		name     string
		fleet    []agent.Expectation // default fleet
		events   []any
		complete bool
		code     int
		says     []string // in stderr
	}{
		{name: "all in", complete: true, code: 0, events: []any{
			res("a", "eth0", agent.StatusOK), res("b", "eth0", agent.StatusEmpty), res("a", "eth1", agent.StatusOK)},
			says: []string{"3 result(s) (2 ok, 1 empty)"}},
		{name: "a rejection expected", fleet: withC, complete: true, code: 1, events: []any{
			res("a", "eth0", agent.StatusOK), res("b", "eth0", agent.StatusEmpty), res("a", "eth1", agent.StatusOK),
			res("c", "", agent.StatusRejected)}, says: []string{"4 result(s) (2 ok, 1 empty, 1 rejected)"}},
		{name: "a stranger's result does not count", code: 1, events: []any{
			res("a", "eth0", agent.StatusOK), res("a", "eth1", agent.StatusOK), res("zz", "eth0", agent.StatusOK)},
			says: []string{"3 of 3 result(s) from b", "3 expected, gave up"}},
		{name: "one agent gone", complete: true, code: 1, events: []any{
			res("a", "eth0", agent.StatusOK), res("a", "eth1", agent.StatusOK),
			presenceEvent{noB}, presenceEvent{noB}}, says: []string{"agent b is gone", "missing: b (gone from presence)"}},
		{name: "away for one check only", code: 1, events: []any{
			res("a", "eth0", agent.StatusOK), res("a", "eth1", agent.StatusOK),
			presenceEvent{noB}, presenceEvent{all}, presenceEvent{noB}}, says: []string{"2 of 3 result(s) from b"}},
		{name: "gone after its results", complete: true, code: 0, events: []any{
			res("a", "eth0", agent.StatusOK), res("b", "eth0", agent.StatusOK),
			presenceEvent{noB}, presenceEvent{noB}, res("a", "eth1", agent.StatusOK)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			now := time.Unix(1_700_000_000, 0)
			w := newWaiter(req, time.Minute, 0, now, &out, &errb, false)
			w.now = func() time.Time { return now }
			if tt.fleet == nil {
				tt.fleet = fleet
			}
			w.expectFleet(tt.fleet)
			for _, ev := range tt.events {
				w.handle(ev)
				w.showStatus(false)
			}
			if got := w.complete(); got != tt.complete {
				t.Errorf("complete() = %v, want %v", got, tt.complete)
			}
			if got := w.finish(""); got != tt.code {
				t.Errorf("exit status %d, want %d", got, tt.code)
			}
			for _, s := range tt.says {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr does not say %q:\n%s", s, errb.String())
				}
			}
		})
	}
}

// TestCollectCancel interrupts a wait: the cancel is sent once, the wait
// goes on for the final results (at most cancelGrace), and the summary
// says the request was cancelled.
func TestCollectCancel(t *testing.T) {
	const id = "req-c"
	req := agent.Request{ID: id, Node: "h1", Interface: []string{"eth0"}}
	var out, errb bytes.Buffer
	w := newWaiter(req, time.Hour, 0, time.Now(), &out, &errb, false)
	w.expectNodes(1)
	events := make(chan any, 4)
	interrupted := make(chan struct{})
	sent := 0
	cancelReq := func() {
		sent++
		events <- cancelEvent{note: "cancel of req-c published"}
		events <- reqResult(id, "h1", "eth0", agent.StatusOK)
	}
	close(interrupted)
	code := w.collect(context.Background(), events, nil, interrupted, cancelReq)
	if code != 0 || sent != 1 {
		t.Errorf("exit status %d after %d cancel(s), want 0 after 1", code, sent)
	}
	if time.Until(w.deadline) > cancelGrace {
		t.Errorf("still waiting until %v after the cancel, want at most %v", w.deadline, cancelGrace)
	}
	for _, s := range []string{"cancelling req-c", "cancel of req-c published", "1 result(s) (1 ok); cancelled"} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("stderr does not say %q:\n%s", s, errb.String())
		}
	}
}
