package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// reqRun is one in-process run of "pcapdaemon request".
type reqRun struct {
	code           int
	stdout, stderr string
}

// reqRunCmd runs "pcapdaemon request args..." in-process with stdin
// and environ, bounded by a minute.
func reqRunCmd(t *testing.T, stdin string, environ []string, args ...string) reqRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb testenv.SyncBuffer
	c := requestCmd{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb,
		environ: environ, now: time.Now, pollEvery: 100 * time.Millisecond,
	}
	code := c.run(ctx, args)
	return reqRun{code: code, stdout: out.String(), stderr: errb.String()}
}

// reqSeedArgs are the seed README's example message as flags.
var reqSeedArgs = []string{
	"-node", "node name", "-interface", "bond1", "-interface", "bond2",
	"-tags", "blah,tagme,stuff", "-bpf", "dst ip 10.0.0.1", "-customer", "importantcustomer",
	"-snap", "1500", "-packets", "50", "-alertid", "655443", "-timeout", "15", "-duration", "60",
	"-bytes", "1000", "-packetdebug=false", "-folder", "myfolder", "-bucket", "mybucket",
	"-acl", "public-read", "-region", "us-east-1", "-endpoint", "s3.amazonaws.com", "-encryption=false",
}

func TestRequestMessageFromFlags(t *testing.T) {
	seed := map[string]any{
		"node": "node name", "interface": []any{"bond1", "bond2"}, "tags": "blah,tagme,stuff",
		"bpf": "dst ip 10.0.0.1", "customer": "importantcustomer", "snap": 1500.0, "packets": 50.0,
		"alertid": 655443.0, "timeout": 15.0, "duration": 60.0, "bytes": 1000.0, "packetdebug": false,
		"folder": "myfolder", "bucket": "mybucket", "acl": "public-read", "region": "us-east-1",
		"endpoint": "s3.amazonaws.com", "encryption": false,
	}
	file := filepath.Join(t.TempDir(), "msg.json")
	if err := os.WriteFile(file, []byte(`{"node":"n1","alias":["public"],"bpf":"tcp","packets":7,"customer":"acme"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  map[string]any // without "id" unless wantID is set
		// wantID is the id expected; "" means a generated one.
		wantID string
	}{
		{name: "seed example", args: reqSeedArgs, want: seed},
		{name: "comma list and repeat", args: []string{"-node", "any", "-interface", "eth0, eth1", "-interface", "eth2", "-id", "abc-1"},
			want: map[string]any{"node": "any", "interface": []any{"eth0", "eth1", "eth2"}}, wantID: "abc-1"},
		{name: "bool flag alone", args: []string{"-nodere", "^web", "-alias", "public,main", "-packetdebug", "-encryption", "-format", "pcapng"},
			want: map[string]any{"nodere": "^web", "alias": []any{"public", "main"}, "packetdebug": true, "encryption": true, "format": "pcapng"}},
		{name: "file", args: []string{"-f", file},
			want: map[string]any{"node": "n1", "alias": []any{"public"}, "bpf": "tcp", "packets": 7.0, "customer": "acme"}},
		{name: "flags replace file fields", args: []string{"-f", file, "-packets", "0", "-bpf", "udp port 53", "-id", "x"},
			want: map[string]any{"node": "n1", "alias": []any{"public"}, "bpf": "udp port 53", "packets": 0.0, "customer": "acme"}, wantID: "x"},
		{name: "stdin", args: []string{"-f", "-"}, stdin: `{"node":"any","interface":["lo"],"id":"from-stdin"}`,
			want: map[string]any{"node": "any", "interface": []any{"lo"}}, wantID: "from-stdin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rf, err := parseRequestFlags(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			msg, req, err := buildMessage(rf.file, strings.NewReader(tt.stdin), rf.fields, now)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(msg, &got); err != nil {
				t.Fatal(err)
			}
			id, _ := got["id"].(string)
			delete(got, "id")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantID != "" && id != tt.wantID:
				t.Errorf("id %q, want %q", id, tt.wantID)
			case tt.wantID == "" && (!agent.ValidID(id) || !strings.HasPrefix(id, "20250102T030405Z-")):
				t.Errorf("generated id %q is not a valid id made at %v", id, now)
			}
			if req.ID != id {
				t.Errorf("decoded request id %q, message id %q", req.ID, id)
			}
		})
	}
}

func TestRequestGeneratedIDsDiffer(t *testing.T) {
	now := time.Now()
	a, b := newRequestID(now), newRequestID(now)
	if a == b || !agent.ValidID(a) || !agent.ValidID(b) {
		t.Errorf("ids %q and %q: want two different valid ids", a, b)
	}
}

func TestRequestUsageErrors(t *testing.T) {
	base := []string{"-redis", "127.0.0.1:1", "-node", "any", "-interface", "lo"}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", append(base, "-nosuch"), "-nosuch"},
		{"positional argument", append(base, "udp"), `unexpected argument "udp"`},
		{"no transport", []string{"-node", "any", "-interface", "lo"}, "no transport"},
		{"two transports", append(base, "-sqsurl", "http://198.18.0.1/1/q"), "-via"},
		{"bad via", append(base, "-via", "carrier-pigeon"), "-via"},
		{"negative number", append(base, "-packets", "-5"), "-packets"},
		{"not a number", append(base, "-snap", "big"), "-snap"},
		{"waittime without wait", append(base, "-waittime", "5s"), "need -wait"},
		{"node and nodere", append(base, "-nodere", "x"), "node"},
		{"no node", []string{"-redis", "127.0.0.1:1", "-interface", "lo"}, "node"},
		{"interface and alias", append(base, "-alias", "main"), "alias"},
		{"bad id", append(base, "-id", "no/slashes"), "id"},
		{"bad format", append(base, "-format", "erf"), "format"},
		{"file missing", append(base, "-f", "/nonexistent/msg.json"), "nonexistent"},
		{"file not an object", append(base, "-f", "-"), "JSON"},
		{"wait on sqs without results", []string{"-sqsurl", "http://198.18.0.1:9/1/q", "-node", "any", "-interface", "lo", "-wait"}, "results queue"},
		{"bad sqs protocol", []string{"-sqsurl", "http://198.18.0.1:9/1/q", "-sqsprotocol", "soap", "-node", "any", "-interface", "lo"}, "json or query"},
		{"bad http url", []string{"-http", "127.0.0.1:8657", "-node", "any", "-interface", "lo"}, "http://"},
		{"config missing", []string{"-config", "/nonexistent.toml", "-node", "any", "-interface", "lo"}, "nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reqRunCmd(t, "[1,2]", nil, tt.args...)
			if r.code != 2 {
				t.Errorf("exit status %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	r := reqRunCmd(t, "", nil, "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: pcapdaemon request") {
		t.Errorf("-h: status %d, stdout %q", r.code, r.stdout)
	}
}

func TestRequestTransportSettings(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "pcapdaemon.toml")
	// A daemon's config as found on a capture host: its interfaces and
	// directories need not exist where the command runs.
	cfg := `[general]
writelocal = true
localdir = "/nonexistent/captures"
spooldir = "/nonexistent/spool"
maxduration = 120
defaulttimeout = 7

[redis]
listen = true
addrs = ["10.0.0.1:6379", "10.0.0.2:6379"]
channel = "caps"
auth = "filepass"
username = "agent"

[sqs]
url = "https://sqs.eu-west-1.amazonaws.com/1/requests"
resultsurl = "https://sqs.eu-west-1.amazonaws.com/1/results"
protocol = "query"

[http]
listen = "0.0.0.0:9999"
token = "filetoken"

[security]
hmackey = "0123456789abcdef0123"

[[interface]]
name = "bond9"
alias = ["public"]
`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	type view struct {
		Via, Channel, Results, User, Password string
		Addrs                                 []string
		SQS                                   sqsSettings
		HTTP, Token, HMAC                     string
		MaxDuration, DefaultTimeout           time.Duration
	}
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    view
	}{
		{
			name: "flags only",
			args: []string{"-redis", "127.0.0.1:7000", "-redischannel", "c1"},
			environ: []string{config.EnvPrefix + "REDIS_AUTH=envpass", config.EnvPrefix + "HTTP_TOKEN=envtoken",
				config.EnvPrefix + "SECURITY_HMACKEY=envkey"},
			want: view{Via: "redis", Channel: "c1", Results: "c1.results", Password: "envpass", Addrs: []string{"127.0.0.1:7000"},
				Token: "envtoken", HMAC: "envkey", MaxDuration: agent.DefaultMaxDuration, DefaultTimeout: agent.DefaultInactivity},
		},
		{
			name: "config",
			args: []string{"-config", cfgFile},
			want: view{Via: "redis", Channel: "caps", Results: "caps.results", User: "agent", Password: "filepass",
				Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379"},
				SQS: sqsSettings{URL: "https://sqs.eu-west-1.amazonaws.com/1/requests", ResultsURL: "https://sqs.eu-west-1.amazonaws.com/1/results",
					Protocol: "query", Region: "us-east-1"},
				HTTP: "http://127.0.0.1:9999", Token: "filetoken", HMAC: "0123456789abcdef0123",
				MaxDuration: 120 * time.Second, DefaultTimeout: 7 * time.Second},
		},
		{
			name:    "config, environment and flags",
			args:    []string{"-config", cfgFile, "-via", "sqs", "-sqsregion", "eu-west-1", "-redischannel", "other", "-token", "flagtoken"},
			environ: []string{config.EnvPrefix + "REDIS_AUTH=envpass", config.EnvPrefix + "SECURITY_HMACKEY=envkey0123456789"},
			want: view{Via: "sqs", Channel: "other", Results: "other.results", User: "agent", Password: "envpass",
				Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379"},
				SQS: sqsSettings{URL: "https://sqs.eu-west-1.amazonaws.com/1/requests", ResultsURL: "https://sqs.eu-west-1.amazonaws.com/1/results",
					Protocol: "query", Region: "eu-west-1"},
				HTTP: "http://127.0.0.1:9999", Token: "flagtoken", HMAC: "envkey0123456789",
				MaxDuration: 120 * time.Second, DefaultTimeout: 7 * time.Second},
		},
		{
			name: "http with explicit results channel",
			args: []string{"-http", "http://127.0.0.1:8657/", "-redischannel", "a", "-resultschannel", "b"},
			want: view{Via: "http", Channel: "a", Results: "b", HTTP: "http://127.0.0.1:8657",
				MaxDuration: agent.DefaultMaxDuration, DefaultTimeout: agent.DefaultInactivity},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rf, err := parseRequestFlags(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			ts, err := resolveTransport(rf, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			got := view{Via: ts.via, Channel: ts.channel, Results: ts.resultsChannel, User: ts.redis.Username,
				Password: ts.redis.Password, Addrs: ts.redis.Addrs, SQS: ts.sqs, HTTP: ts.httpURL, Token: ts.token,
				HMAC: ts.hmacKey, MaxDuration: ts.maxDuration, DefaultTimeout: ts.defaultTimeout}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := os.Stat("captures"); err == nil {
		t.Errorf("loading a daemon config created ./captures")
	}
}

func TestRequestDefaultWaitTime(t *testing.T) {
	tests := []struct {
		req  agent.Request
		want time.Duration
	}{
		{agent.Request{Duration: 60, Timeout: 15}, 105 * time.Second},
		{agent.Request{Duration: 60}, 60*time.Second + 10*time.Second + requestSlack},
		{agent.Request{}, 3600*time.Second + 10*time.Second + requestSlack},
	}
	for _, tt := range tests {
		if got := defaultWaitTime(tt.req, agent.DefaultMaxDuration, agent.DefaultInactivity); got != tt.want {
			t.Errorf("defaultWaitTime(%+v) = %v, want %v", tt.req, got, tt.want)
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

// FuzzRequestMessage checks buildMessage on any message file: it fails, or
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
		msg, req, err := buildMessage("-", strings.NewReader(file), fields, time.Unix(0, 0))
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

func BenchmarkRequestMessage(b *testing.B) {
	rf, err := parseRequestFlags(reqSeedArgs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		if _, _, err := buildMessage("", nil, rf.fields, now); err != nil {
			b.Fatal(err)
		}
	}
}
