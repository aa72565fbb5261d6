package agent

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDecodeCancel(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		id      string
		ok      bool
		invalid string // the *ValidationError's field, "" for none
	}{
		{name: "cancel", msg: `{"cancel":"req-1"}`, id: "req-1", ok: true},
		{name: "spaces", msg: ` { "cancel" : "a.b_c-9" } `, id: "a.b_c-9", ok: true},
		{name: "request", msg: `{"node":"any","interface":["eth0"]}`},
		{name: "request whose filter says cancel", msg: `{"node":"any","interface":["eth0"],"bpf":"\"cancel\""}`},
		{name: "not JSON", msg: `"cancel"`},
		{name: "other fields", msg: `{"cancel":"x","node":"any"}`, ok: true, invalid: printable("node")},
		{name: "not a string", msg: `{"cancel":5}`, ok: true, invalid: "cancel"},
		{name: "bad id", msg: `{"cancel":"../etc"}`, ok: true, invalid: "cancel"},
		{name: "empty id", msg: `{"cancel":""}`, ok: true, invalid: "cancel"},
		{name: "round trip", msg: string(CancelMessage("r-2")), id: "r-2", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok, err := DecodeCancel([]byte(tt.msg))
			if ok != tt.ok || (err == nil && id != tt.id) {
				t.Errorf("DecodeCancel(%s) = %q, %v, %v; want %q, %v", tt.msg, id, ok, err, tt.id, tt.ok)
			}
			var ve *ValidationError
			switch {
			case tt.invalid == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.invalid != "" && (!errors.As(err, &ve) || ve.Field != tt.invalid):
				t.Errorf("error %v, want a ValidationError of field %q", err, tt.invalid)
			}
		})
	}
}

// TestSubmitCancelMessage cancels a running capture with a cancel message
// through Submit, as a transport hands it on: the capture ends with stop
// reason cancelled and its frames are delivered. A cancel for a request
// this agent does not run is not for this node (an SQS queue settles it
// so) and no result is published for it.
func TestSubmitCancelMessage(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.scripts["eth0"] = frames(3, 100, time.Millisecond)
	ta.host.block["eth0"] = true
	id := submit(t, ta, `{"id":"run-1","node":"any","interface":["eth0"]}`)
	ta.host.waitBlocked(t, "eth0")

	if got, err := ta.Submit(context.Background(), CancelMessage("other"), "redis"); !errors.Is(err, ErrNotForNode) || !errors.Is(err, ErrUnknownID) || got != "other" {
		t.Errorf("cancel of an unknown request = %q, %v; want ErrNotForNode and ErrUnknownID", got, err)
	}
	ta.noResult(t)
	if got, err := ta.Submit(context.Background(), CancelMessage(id), "redis"); err != nil || got != id {
		t.Fatalf("cancel = %q, %v", got, err)
	}
	r := ta.result(t)
	if r.ID != id || r.StopReason != StopCancelled || r.Status != StatusOK || r.Packets != 3 {
		t.Errorf("result %+v, want 3 packets delivered, stopped by cancel", r)
	}
	if _, data := ta.sink.captures(); len(data) != 1 {
		t.Errorf("%d files delivered, want 1", len(data))
	}
	if _, err := ta.Submit(context.Background(), []byte(`{"cancel":"x","id":"y"}`), "redis"); err == nil {
		t.Error("a cancel message with other fields was taken")
	}
	ta.noResult(t)
}

// TestCancelBeforeRequest sends the cancel before its request (transports
// do not keep the order of messages): the request, when it comes, ends at
// once with stop reason cancelled, so that its requester gets its result.
// The cancel is kept for earlyCancelTTL only.
func TestCancelBeforeRequest(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.block["eth0"] = true
	ta.host.block["eth1"] = true
	for _, id := range []string{"early", "late"} {
		if _, err := ta.Submit(context.Background(), CancelMessage(id), "sqs"); !errors.Is(err, ErrNotForNode) {
			t.Fatalf("cancel of %s before its request = %v", id, err)
		}
	}
	submit(t, ta, `{"id":"early","node":"any","interface":["eth0"]}`)
	if r := ta.result(t); r.ID != "early" || r.StopReason != StopCancelled {
		t.Errorf("result %+v, want early cancelled", r)
	}
	ta.clock.advance(earlyCancelTTL + time.Second)
	submit(t, ta, `{"id":"late","node":"any","interface":["eth1"]}`)
	ta.host.waitBlocked(t, "eth1")
	ta.noResult(t)
	if err := ta.Cancel("late"); err != nil {
		t.Fatal(err)
	}
	ta.result(t)
}

func TestCancelSetBounds(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := newCancelSet(time.Minute, 3)
	for _, id := range []string{"a", "b", "c", "d"} {
		s.add(id, now)
	}
	if s.take("a", now) {
		t.Error("the oldest id was kept beyond the size bound")
	}
	if !s.take("d", now) || s.take("d", now) {
		t.Error("take does not report an id once")
	}
	for range 1000 {
		s.add("b", now) // the same id again and again
	}
	if len(s.fifo) > 2*s.size+1 || len(s.at) > s.size {
		t.Errorf("%d entries, %d ids kept, want at most %d", len(s.fifo), len(s.at), s.size)
	}
	if s.take("c", now.Add(time.Minute)) {
		t.Error("an id was kept beyond the TTL")
	}
}
