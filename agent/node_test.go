package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func fakeHostInterfaces() ([]HostInterface, error) {
	return []HostInterface{
		{Name: "lo", LinkType: 1}, {Name: "eth0", LinkType: 1}, {Name: "tun0", LinkType: 101},
		{Name: "gone", LinkTypeErr: errors.New("no such device")},
	}, nil
}

// TestNode describes the agent as its presence record does: the host's
// interfaces with link types and aliases, an alias's interface the host
// lacks, the running requests, the limits.
func TestNode(t *testing.T) {
	ta := newTestAgent(t, Config{
		Hostname: "cap7", MaxDuration: 120 * time.Second, DefaultTimeout: 7 * time.Second,
		Aliases: map[string][]string{"main": {"eth0"}, "public": {"eth0", "eth9"}, "all": {"any"}},
	}, WithHostInterfaces(fakeHostInterfaces))
	ta.host.block["eth0"] = true
	submit(t, ta, `{"id":"r1","node":"any","interface":["eth0"]}`)
	ta.host.waitBlocked(t, "eth0")

	got := ta.Node()
	want := NodeInfo{
		Node: "cap7", Started: newFakeClock().Now(),
		Interfaces: []NodeInterface{
			{Name: "lo", LinkType: "EN10MB"},
			{Name: "eth0", LinkType: "EN10MB", Aliases: []string{"main", "public"}},
			{Name: "tun0", LinkType: "RAW"},
			{Name: "gone"},
			{Name: "any", Aliases: []string{"all"}},
			{Name: "eth9", Aliases: []string{"public"}, Absent: true},
		},
		Running:     []RunningRequest{{ID: "r1", Interfaces: []string{"eth0"}, Since: newFakeClock().Now(), Source: "test"}},
		MaxDuration: 120, DefaultTimeout: 7, MaxLookback: 300,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Node() (-want +got):\n%s", diff)
	}
	if err := ta.Cancel("r1"); err != nil {
		t.Fatal(err)
	}
	ta.result(t)
	if n := ta.Node(); len(n.Running) != 0 || n.Running == nil {
		t.Errorf("running %#v after the request ended, want an empty list", n.Running)
	}
}

func TestExpect(t *testing.T) {
	nodes := []NodeInfo{
		{Node: "web1", MaxDuration: 60, MaxLookback: 30, Interfaces: []NodeInterface{
			{Name: "eth0", Aliases: []string{"public"}, Lookback: &LookbackSpan{Bytes: 100, Seconds: 2}},
			{Name: "eth1", Aliases: []string{"public", "back"}}}},
		{Node: "web2", MaxDuration: 3600, Interfaces: []NodeInterface{
			{Name: "eth0", Aliases: []string{"public"}}, {Name: "bond0", Aliases: []string{"back"}},
			{Name: "eth1", Aliases: []string{"public"}, Absent: true}}},
		{Node: "db1", Interfaces: []NodeInterface{{Name: "eth0"}}},
	}
	type exp struct {
		Node       string
		Interfaces []string
		Rejects    string // the ValidationError's field, "" for none
	}
	tests := []struct {
		name string
		req  Request
		want []exp
	}{
		{name: "one node by name, any case", req: Request{Node: "WEB1", Interface: []string{"eth0", "eth1", "eth0"}},
			want: []exp{{Node: "web1", Interfaces: []string{"eth0", "eth1"}}}},
		{name: "nodere", req: Request{NodeRE: "^web", Interface: []string{"eth0"}},
			want: []exp{{Node: "web1", Interfaces: []string{"eth0"}}, {Node: "web2", Interfaces: []string{"eth0"}}}},
		{name: "unanchored nodere", req: Request{NodeRE: "b1", Interface: []string{"any"}},
			want: []exp{{Node: "web1", Interfaces: []string{"any"}}, {Node: "db1", Interfaces: []string{"any"}}}},
		{name: "alias, one host lacks an interface", req: Request{Node: "any", Alias: []string{"public"}},
			want: []exp{{Node: "web1", Interfaces: []string{"eth0", "eth1"}}, {Node: "web2", Rejects: "alias"}, {Node: "db1", Rejects: "alias[0]"}}},
		{name: "alias of another interface", req: Request{NodeRE: "web", Alias: []string{"back"}},
			want: []exp{{Node: "web1", Interfaces: []string{"eth1"}}, {Node: "web2", Interfaces: []string{"bond0"}}}},
		{name: "interface the host lacks", req: Request{Node: "db1", Interface: []string{"eth0", "eth7"}},
			want: []exp{{Node: "db1", Rejects: "interface[1]"}}},
		{name: "duration above a node's maximum", req: Request{NodeRE: "web", Interface: []string{"eth0"}, Duration: 600},
			want: []exp{{Node: "web1", Rejects: "duration"}, {Node: "web2", Interfaces: []string{"eth0"}}}},
		{name: "no match", req: Request{Node: "mail1", Interface: []string{"eth0"}}},
		{name: "lookback", req: Request{NodeRE: "web", Interface: []string{"eth0"}, Lookback: 10},
			want: []exp{{Node: "web1", Interfaces: []string{"eth0"}}, {Node: "web2", Rejects: "lookback"}}},
		{name: "lookback on an interface without a ring", req: Request{Node: "web1", Alias: []string{"public"}, Lookback: 10},
			want: []exp{{Node: "web1", Rejects: "lookback"}}},
		{name: "lookback above a node's maximum", req: Request{Node: "web1", Interface: []string{"eth0"}, Lookback: 31},
			want: []exp{{Node: "web1", Rejects: "lookback"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := Expect(tt.req, nodes)
			if err != nil {
				t.Fatal(err)
			}
			var got []exp
			for _, e := range es {
				g := exp{Node: e.Node, Interfaces: e.Interfaces}
				var ve *ValidationError
				if e.Reject != nil {
					if !errors.As(e.Reject, &ve) {
						t.Fatalf("%s: reject %v is not a ValidationError", e.Node, e.Reject)
					}
					g.Rejects = ve.Field
				}
				got = append(got, g)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Expect (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Expect(Request{NodeRE: "("}, nodes); err == nil {
		t.Error("a bad nodere was taken")
	}
}

func TestCaptureSpan(t *testing.T) {
	n := NodeInfo{MaxDuration: 120}
	for _, tt := range []struct {
		n    NodeInfo
		req  Request
		want time.Duration
	}{
		{n, Request{Duration: 30}, 30 * time.Second},
		{n, Request{}, 120 * time.Second},
		{NodeInfo{}, Request{}, time.Hour},
	} {
		if got := tt.n.CaptureSpan(tt.req, time.Hour); got != tt.want {
			t.Errorf("CaptureSpan(%+v) = %v, want %v", tt.req, got, tt.want)
		}
	}
}

// BenchmarkNode describes this agent as a presence refresh does, with the
// host's real interfaces (net.Interfaces and one ioctl each).
func BenchmarkNode(b *testing.B) {
	a, err := New(Config{Hostname: "bench", Aliases: map[string][]string{"main": {"lo"}}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	b.ReportAllocs()
	var n NodeInfo
	for b.Loop() {
		n = a.Node()
	}
	b.ReportMetric(float64(len(n.Interfaces)), "interfaces")
}
