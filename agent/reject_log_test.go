package agent

import (
	"strings"
	"testing"
)

// TestRejectionLoggedOnce: a rejected request gets exactly one log line,
// naming its id once, its source and the reason, whichever check refused
// it.
func TestRejectionLoggedOnce(t *testing.T) {
	for _, tc := range []struct {
		name, id, msg, reason string
		sinks                 []Sink
	}{
		{name: "malformed", id: "rej-decode",
			msg: `{"id":"rej-decode","node":"any","interface":["eth0"],"snap":-1}`, reason: "snap"},
		{name: "filter", id: "rej-filter",
			msg: `{"id":"rej-filter","node":"any","interface":["eth0"],"bpf":"bad syntax"}`, reason: "syntax error"},
		{name: "unknown interface", id: "rej-iface",
			msg: `{"id":"rej-iface","node":"any","interface":["eth9"]}`, reason: "eth9"},
		{name: "refused by a sink", id: "rej-sink", sinks: []Sink{checkingSink{name: "s3", err: refusal{"acl"}}},
			msg: `{"id":"rej-sink","node":"any","interface":["eth0"],"acl":"public-read"}`, reason: "acl not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestAgent(t, Config{}, WithSinks(tc.sinks...))
			if _, err := ta.Submit(t.Context(), []byte(tc.msg), "redis"); err == nil {
				t.Fatal("Submit accepted the request")
			}
			if r := ta.result(t); r.Status != StatusRejected || r.ID != tc.id {
				t.Fatalf("result %+v, want %s rejected", r, tc.id)
			}
			var lines []string
			for _, l := range strings.Split(ta.logText(), "\n") {
				if strings.Contains(l, tc.id) {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d log lines name %s, want 1:\n%s", len(lines), tc.id, strings.Join(lines, "\n"))
			}
			l := lines[0]
			if strings.Count(l, "id="+tc.id) != 1 || !strings.Contains(l, "source=redis") || !strings.Contains(l, tc.reason) ||
				!strings.Contains(l, "level=WARN") {
				t.Errorf("line %q: want one WARN with the id once, source=redis and the reason %q", l, tc.reason)
			}
		})
	}
}
