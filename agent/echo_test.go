package agent

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestResultEcho: every result of a request carries its alertid (a JSON
// number, as in the request), tags and customer, so that an alerting
// system can match results to alerts: captures, merged captures, and
// rejected requests (invalid, not admitted, id of another request). A
// request without them gets results without those keys.
func TestResultEcho(t *testing.T) {
	const echoed = `"alertid":655443,"tags":"blah,tagme","customer":"c"`
	tests := []struct {
		name    string
		first   string // submitted first (and waited for), or ""
		msg     string
		results int
		status  Status   // "": any
		want    []string // JSON fragments every result must hold
		absent  []string // JSON keys no result may hold
	}{
		{name: "capture", msg: `{"id":"e1","node":"any","interface":["eth0"],"packets":1,` + echoed + `}`,
			results: 1, status: StatusOK, want: []string{`"alertid":655443`, `"tags":"blah,tagme"`, `"customer":"c"`}},
		// Which interface's frames make the file depends on the fake
		// clock's race between the two sessions: any status will do.
		{name: "merged capture", msg: `{"id":"e2","node":"any","interface":["eth0","eth1"],"merge":true,"packets":4,` + echoed + `}`,
			results: 2, want: []string{`"alertid":655443`, `"tags":"blah,tagme"`, `"customer":"c"`}},
		{name: "none given", msg: `{"id":"e3","node":"any","interface":["eth0"],"packets":1}`,
			results: 1, status: StatusOK, absent: []string{`"alertid"`, `"tags"`, `"customer"`}},
		{name: "rejected: unknown interface", msg: `{"id":"e4","node":"any","interface":["eth9"],` + echoed + `}`,
			results: 1, status: StatusRejected, want: []string{`"alertid":655443`, `"tags":"blah,tagme"`, `"customer":"c"`}},
		{name: "rejected: invalid field after them", msg: `{"id":"e5","node":"any",` + echoed + `,"interface":["eth0"],"snap":-1}`,
			results: 1, status: StatusRejected, want: []string{`"alertid":655443`, `"customer":"c"`}},
		{name: "rejected: id of another request", first: `{"id":"e6","node":"any","interface":["eth0"],"packets":1}`,
			msg:     `{"id":"e6","node":"any","interface":["eth1"],"alertid":7,"customer":"other"}`,
			results: 1, status: StatusRejected, want: []string{`"alertid":7`, `"customer":"other"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ta := newTestAgent(t, Config{})
			ta.host.scripts["eth0"] = frames(2, 100, time.Millisecond)
			ta.host.scripts["eth1"] = frames(2, 100, time.Millisecond)
			if tt.first != "" {
				submit(t, ta, tt.first)
				ta.result(t)
			}
			ta.Submit(context.Background(), []byte(tt.msg), "test")
			for range tt.results {
				r := ta.result(t)
				if tt.status != "" && r.Status != tt.status {
					t.Errorf("status %s (%s), want %s", r.Status, r.Error, tt.status)
				}
				b, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range tt.want {
					if !strings.Contains(string(b), w) {
						t.Errorf("result %s\nlacks %s", b, w)
					}
				}
				for _, a := range tt.absent {
					if strings.Contains(string(b), a) {
						t.Errorf("result %s\nholds %s", b, a)
					}
				}
			}
		})
	}
}

// TestResultEchoAfterRestart: a capture that the previous process left
// running is reported at the next start with the request's alertid, tags
// and customer, which the journal kept.
func TestResultEchoAfterRestart(t *testing.T) {
	j, err := OpenJournal(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ta := newTestAgent(t, Config{}, WithJournal(j))
	ta.host.block["eth0"] = true
	id := submit(t, ta, `{"node":"any","interface":["eth0"],"alertid":42,"tags":"t","customer":"acme"}`)
	es, err := j.Entries()
	if err != nil || len(es) != 1 {
		t.Fatalf("journal: %+v, %v", es, err)
	}
	if e := es[0]; e.AlertID != 42 || e.Tags != "t" || e.Customer != "acme" {
		t.Fatalf("journal record %+v, want alertid 42, tags t, customer acme", e)
	}

	// The next process finds the record.
	ta2 := newTestAgent(t, Config{}, WithJournal(j))
	if n, err := ta2.RecoverJournal(); n != 1 || err != nil {
		t.Fatalf("RecoverJournal = %d, %v", n, err)
	}
	r := ta2.result(t)
	if r.ID != id || r.StopReason != StopRestart || r.AlertID != 42 || r.Tags != "t" || r.Customer != "acme" {
		t.Errorf("restart result %+v, want the request's alertid, tags and customer", r)
	}
}
