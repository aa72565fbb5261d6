package main

import (
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
	"github.com/pcapdaemon/pcapdaemon/internal/cli/request"
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
	c := &request.Command{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Environ: environ, Now: time.Now, PollEvery: 100 * time.Millisecond,
	}
	code := requestMain(ctx, args, c)
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
			msg, req, err := request.BuildMessage(rf.File, strings.NewReader(tt.stdin), rf.Fields, now)
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
		SQS                                   request.SQSSettings
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
				SQS: request.SQSSettings{URL: "https://sqs.eu-west-1.amazonaws.com/1/requests", ResultsURL: "https://sqs.eu-west-1.amazonaws.com/1/results",
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
				SQS: request.SQSSettings{URL: "https://sqs.eu-west-1.amazonaws.com/1/requests", ResultsURL: "https://sqs.eu-west-1.amazonaws.com/1/results",
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
			ts, err := request.Resolve(rf.Transport, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			got := view{Via: ts.Via, Channel: ts.Channel, Results: ts.ResultsChannel, User: ts.Redis.Username,
				Password: ts.Redis.Password, Addrs: ts.Redis.Addrs, SQS: ts.SQS, HTTP: ts.HTTPURL, Token: ts.Token,
				HMAC: ts.HMACKey, MaxDuration: ts.MaxDuration, DefaultTimeout: ts.DefaultTimeout}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := os.Stat("captures"); err == nil {
		t.Errorf("loading a daemon config created ./captures")
	}
}

func BenchmarkRequestMessage(b *testing.B) {
	rf, err := parseRequestFlags(reqSeedArgs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	now := time.Now()
	for b.Loop() {
		if _, _, err := request.BuildMessage("", nil, rf.Fields, now); err != nil {
			b.Fatal(err)
		}
	}
}
