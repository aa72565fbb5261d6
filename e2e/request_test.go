package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The request command against the real daemon binary and a real
// redis-server: without privileges with requests the daemon rejects, as
// root with captures on a veth pair.

// reqDaemonConfig is a daemon config for the request command's tests:
// Redis and the HTTP API on loopback, local files in dir, signed requests.
func reqDaemonConfig(t *testing.T, redisPort, httpPort int, dir, iface string) string {
	t.Helper()
	body := fmt.Sprintf(`[general]
writelocal = true
localdir = %q
defaulttimeout = 10

[redis]
listen = true
host = "127.0.0.1"
port = %d
channel = "reqtest"

[http]
listen = "127.0.0.1:%d"
token = "reqtesttoken"

[security]
hmackey = "request-test-hmac-key"

[[interface]]
name = %q
alias = ["main"]
`, dir, redisPort, httpPort, iface)
	path := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// reqWaitSubscribed waits until n clients subscribe to channel.
func reqWaitSubscribed(t *testing.T, r *testenv.Redis, channel string, n int, d *daemon) {
	t.Helper()
	ok := testenv.WaitFor(15*time.Second, func() bool {
		out, err := r.CLI("PUBSUB", "NUMSUB", channel)
		return err == nil && strings.HasSuffix(out, fmt.Sprint(n))
	})
	if !ok {
		t.Fatalf("daemon did not subscribe to %s\n%s", channel, d.Logs())
	}
}

// reqRun is one run of the binary's "pcapdaemon request".
type reqRun struct {
	code           int
	stdout, stderr string
}

// reqRunCmd runs the binary's "pcapdaemon request args..." with stdin and
// exactly the environment environ, bounded by a minute.
func reqRunCmd(t *testing.T, stdin string, environ []string, args ...string) reqRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, daemonBinary(t), append([]string{"request"}, args...)...)
	cmd.Env = append([]string{}, environ...) // not nil: nil would pass the test's own environment
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("request: %v", err)
	}
	return reqRun{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// reqParseResults decodes stdout's result lines.
func reqParseResults(t *testing.T, stdout string) []agent.Result {
	t.Helper()
	var rs []agent.Result
	for l := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		if l == "" {
			continue
		}
		var r agent.Result
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("stdout line %q is not a result event: %v", l, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestRequestRejected runs the command against the real daemon with
// requests every agent rejects (an unknown alias): the whole path from
// publishing to the printed result, without capture privileges.
func TestRequestRejected(t *testing.T) {
	redis := testenv.StartRedis(t)
	dir := t.TempDir()
	httpPort := testenv.FreePort(t)
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	cfg := reqDaemonConfig(t, redis.Port, httpPort, dir, "lo")
	d := startDaemon(t, "-config", cfg)
	reqWaitSubscribed(t, redis, "reqtest", 1, d)
	host := hostname(t)

	tests := []struct {
		name    string
		args    []string
		environ []string
	}{
		{name: "redis flags", args: []string{"-redis", redis.Addr, "-redischannel", "reqtest", "-hmackey", "request-test-hmac-key"}},
		{name: "redis from config", args: []string{"-config", cfg}},
		{name: "http flags", args: []string{"-http", api, "-token", "reqtesttoken"},
			environ: []string{config.EnvPrefix + "SECURITY_HMACKEY=request-test-hmac-key"}},
		{name: "http from config", args: []string{"-config", cfg, "-via", "http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			args := append(tt.args, "-wait", "-node", host, "-alias", "nosuch", "-packets", "5")
			r := reqRunCmd(t, "", tt.environ, args...)
			if r.code != 1 {
				t.Errorf("exit status %d, want 1\nstderr:\n%s", r.code, r.stderr)
			}
			rs := reqParseResults(t, r.stdout)
			if len(rs) != 1 || rs[0].Status != agent.StatusRejected || !strings.Contains(rs[0].Error, "nosuch") || !agent.ValidID(rs[0].ID) {
				t.Fatalf("results %+v, want one rejection naming the alias\nstderr:\n%s", rs, r.stderr)
			}
			if !strings.Contains(r.stderr, rs[0].ID+": 1 result(s) (1 rejected)") {
				t.Errorf("stderr has no summary for %s:\n%s", rs[0].ID, r.stderr)
			}
			// The node answered: no waiting for the deadline.
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}

	t.Run("unsigned is refused", func(t *testing.T) {
		r := reqRunCmd(t, "", nil, "-http", api, "-token", "reqtesttoken", "-node", host, "-interface", "lo")
		if r.code != 1 || !strings.Contains(r.stderr, "HTTP 403") {
			t.Errorf("status %d, stderr %q: want 1 and the API's 403", r.code, r.stderr)
		}
	})
	t.Run("no wait", func(t *testing.T) {
		r := reqRunCmd(t, "", nil, "-config", cfg, "-node", host, "-alias", "nosuch", "-id", "nowait-1")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "nowait-1" {
			t.Fatalf("status %d, stdout %q, stderr %q: want 0 and the id", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "1 subscriber") {
			t.Errorf("stderr %q does not say how many subscribers got it", r.stderr)
		}
		ok := testenv.WaitFor(5*time.Second, func() bool { return strings.Contains(d.Logs(), "nowait-1") })
		if !ok {
			t.Errorf("the daemon never saw request nowait-1")
		}
	})
	t.Run("nobody subscribed", func(t *testing.T) {
		r := reqRunCmd(t, "", nil, "-redis", redis.Addr, "-redischannel", "nobody-listens", "-node", "any", "-interface", "lo", "-wait")
		if r.code != 1 || !strings.Contains(r.stderr, "no agent is subscribed") {
			t.Errorf("status %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("no live agent matches", func(t *testing.T) {
		// A node that does not exist: the agents' presence records say so
		// before anything is published.
		r := reqRunCmd(t, "", nil, "-config", cfg, "-node", "no-such-host", "-interface", "lo", "-wait")
		if r.code != 1 || !strings.Contains(r.stderr, `no live agent matches node "no-such-host" (present: `+host+`); not published`) {
			t.Errorf("status %d, stderr %q", r.code, r.stderr)
		}
	})
}

// reqSendDuring sends frames on the pair every 100ms while f runs (bounded:
// at most 300 rounds), and returns f's result.
func reqSendDuring[T any](t *testing.T, p *netns.Pair, frames [][]byte, f func() T) T {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for range 300 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := p.Send(frames); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	return f()
}

// TestRequestWaitCapture runs the command against the real daemon
// capturing on a veth pair: the result printed names a file that holds
// what was asked for.
func TestRequestWaitCapture(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	redis := testenv.StartRedis(t)
	dir := t.TempDir()
	httpPort := testenv.FreePort(t)
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	cfg := reqDaemonConfig(t, redis.Port, httpPort, dir, pair.Host)
	d := startDaemon(t, "-config", cfg)
	reqWaitSubscribed(t, redis, "reqtest", 1, d)
	host := hostname(t)
	frames := [][]byte{udpFrame(pair, 9999, []byte("want")), udpFrame(pair, 53, []byte("noise"))}
	msg := []string{"-bpf", "udp and dst port 9999", "-packets", "3", "-timeout", "10", "-duration", "20", "-customer", "acme"}

	tests := []struct {
		name    string
		args    []string
		environ []string
	}{
		{name: "redis, status from the HTTP API",
			args:    []string{"-redis", redis.Addr, "-redischannel", "reqtest", "-http", api, "-token", "reqtesttoken", "-node", host, "-interface", pair.Host},
			environ: []string{config.EnvPrefix + "SECURITY_HMACKEY=request-test-hmac-key"}},
		{name: "http", args: []string{"-http", api, "-token", "reqtesttoken", "-hmackey", "request-test-hmac-key", "-node", host, "-alias", "main"}},
		{name: "config, any node", args: []string{"-config", cfg, "-node", "any", "-interface", pair.Host}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r := reqSendDuring(t, pair, frames, func() reqRun {
				return reqRunCmd(t, "", tt.environ, append(append(tt.args, "-wait"), msg...)...)
			})
			t.Logf("%s: exit %d after %v; stderr:\n%s", tt.name, r.code, time.Since(start).Round(time.Millisecond), r.stderr)
			if r.code != 0 {
				t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s\ndaemon:\n%s", r.code, r.stdout, r.stderr, d.Logs())
			}
			rs := reqParseResults(t, r.stdout)
			if len(rs) != 1 {
				t.Fatalf("%d results, want 1:\n%s", len(rs), r.stdout)
			}
			res := rs[0]
			if res.Status != agent.StatusOK || res.Packets != 3 || res.StopReason != agent.StopPackets ||
				res.Interface != pair.Host || len(res.Locations) != 1 {
				t.Fatalf("result %+v, want ok with 3 packets from %s in one file", res, pair.Host)
			}
			if !strings.HasPrefix(res.Locations[0], dir) || !strings.HasSuffix(res.Locations[0], "-"+res.ID+".pcap") {
				t.Errorf("location %q is not <localdir>/...-<id>.pcap", res.Locations[0])
			}
			lines := tcpdumpRead(t, res.Locations[0])
			if len(lines) != 3 {
				t.Errorf("tcpdump -r: %d packets, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			for _, l := range lines {
				if !strings.Contains(l, ".9999: UDP") {
					t.Errorf("packet outside the filter: %s", l)
				}
			}
			if !strings.Contains(r.stderr, res.ID+": 1 result(s) (1 ok)") {
				t.Errorf("no summary on stderr")
			}
		})
	}
}
