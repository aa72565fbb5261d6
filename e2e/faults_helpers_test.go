package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// The fault and hostile-request tests share these helpers with the
// end-to-end tests (e2e_test.go): the real binary, real redis-server,
// versitygw and veth pairs, files read back with tcpdump -r.

// daemonConf describes one daemon's TOML configuration.
type daemonConf struct {
	redisPort int    // 0: no Redis source
	channel   string // default "capture"
	httpPort  int
	localDir  string // "": no local sink
	spoolDir  string
	hmacKey   string
	aliases   [][2]string // {interface, alias} pairs, one [[interface]] each
	general   []string    // more `key = value` lines for [general]
	extra     string      // more sections, verbatim
}

func (c daemonConf) toml() string {
	var b strings.Builder
	b.WriteString("[general]\n")
	if c.localDir != "" {
		fmt.Fprintf(&b, "writelocal = true\nlocaldir = %q\n", c.localDir)
	} else {
		b.WriteString("writelocal = false\n")
	}
	if c.spoolDir != "" {
		fmt.Fprintf(&b, "spooldir = %q\n", c.spoolDir)
	}
	b.WriteString("snaplength = 1500\ndefaulttimeout = 10\nmaxtimeout = 60\nmaxduration = 60\nshutdowngrace = 10\n")
	for _, l := range c.general {
		b.WriteString(l + "\n")
	}
	ch := c.channel
	if ch == "" {
		ch = "capture"
	}
	if c.redisPort != 0 {
		fmt.Fprintf(&b, "\n[redis]\nlisten = true\nhost = \"127.0.0.1\"\nport = %d\nchannel = %q\n", c.redisPort, ch)
	}
	fmt.Fprintf(&b, "\n[http]\nlisten = \"127.0.0.1:%d\"\n", c.httpPort)
	if c.hmacKey != "" {
		fmt.Fprintf(&b, "\n[security]\nhmackey = %q\nmaxskew = 30\n", c.hmacKey)
	}
	for _, a := range c.aliases {
		fmt.Fprintf(&b, "\n[[interface]]\nname = %q\nalias = [%q]\n", a[0], a[1])
	}
	b.WriteString(c.extra)
	return b.String()
}

// writeConf writes c to path (atomically, as an operator's editor would).
func writeConf(t *testing.T, path string, c daemonConf) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(c.toml()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// apiURL is the daemon's HTTP API base URL.
func apiURL(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// waitLog waits until the daemon's log contains substr.
func waitLog(t *testing.T, d *daemon, substr string, timeout time.Duration) {
	t.Helper()
	if !testenv.WaitFor(timeout, func() bool { return strings.Contains(d.Logs(), substr) }) {
		t.Fatalf("the daemon did not log %q within %v", substr, timeout)
	}
}

// logLines returns the daemon's log lines that contain substr.
func logLines(d *daemon, substr string) []string {
	var out []string
	for _, l := range strings.Split(d.Logs(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// waitHTTP waits until the daemon answers /healthz.
func waitHTTP(t *testing.T, d *daemon, api string) {
	t.Helper()
	ok := testenv.WaitFor(15*time.Second, func() bool {
		resp, err := http.Get(api + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if !ok {
		t.Fatalf("daemon never answered /healthz\n%s", d.Logs())
	}
}

// series names a metric with labels given as name, value pairs.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	type kv struct{ k, v string }
	var kvs []kv
	for i := 0; i+1 < len(labels); i += 2 {
		kvs = append(kvs, kv{labels[i], labels[i+1]})
	}
	slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	parts := make([]string, len(kvs))
	for i, p := range kvs {
		parts[i] = fmt.Sprintf("%s=%q", p.k, p.v)
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// requestState is GET /v1/captures/{id}'s answer.
type requestState struct {
	ID      string         `json:"id"`
	State   string         `json:"state"`
	Results []agent.Result `json:"results"`
}

// lookup returns a request's state from the HTTP API (ok false on 404).
func lookup(t *testing.T, api, id string) (requestState, bool) {
	t.Helper()
	code, body := testenv.GetText(t, api+"/v1/captures/"+id)
	if code == http.StatusNotFound {
		return requestState{}, false
	}
	var s requestState
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("GET /v1/captures/%s: %d %q: %v", id, code, body, err)
	}
	return s, true
}

// waitDone waits until request id is done and returns its state.
func waitDone(t *testing.T, api, id string, timeout time.Duration) requestState {
	t.Helper()
	var s requestState
	ok := testenv.WaitFor(timeout, func() bool {
		var found bool
		s, found = lookup(t, api, id)
		return found && s.State == "done"
	})
	if !ok {
		t.Fatalf("request %s not done within %v: %+v", id, timeout, s)
	}
	return s
}

// results collects the result events published on a Redis channel, with
// the time each arrived.
type results struct {
	mu  sync.Mutex
	got []agent.Result
	at  []time.Time
	bad []string // messages that are not result JSON
}

// subscribeResults listens on channel until the test ends; it returns once
// the subscription is confirmed.
func subscribeResults(t *testing.T, addr, channel string) *results {
	t.Helper()
	c, err := redis.Dial(redis.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &results{}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Subscribe(ctx, channel, func() { close(ready) }, func(msg []byte) bool {
			now := time.Now()
			var r agent.Result
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if err := json.Unmarshal(msg, &r); err != nil || r.ID == "" {
				rs.bad = append(rs.bad, string(msg))
				return true
			}
			rs.got, rs.at = append(rs.got, r), append(rs.at, now)
			return true
		})
	}()
	t.Cleanup(func() { cancel(); <-done; c.Close() })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("no subscription to %s", channel)
	}
	return rs
}

// all returns a copy of the results so far.
func (rs *results) all() []agent.Result {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.got)
}

// byID returns the results for id.
func (rs *results) byID(id string) []agent.Result {
	var out []agent.Result
	for _, r := range rs.all() {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

// waitID waits for n results of request id.
func (rs *results) waitID(t *testing.T, id string, n int, timeout time.Duration) []agent.Result {
	t.Helper()
	got, _ := rs.waitIDTimed(t, id, n, timeout)
	return got
}

// waitIDTimed waits for n results of request id and returns them with
// their arrival times.
func (rs *results) waitIDTimed(t *testing.T, id string, n int, timeout time.Duration) ([]agent.Result, []time.Time) {
	t.Helper()
	var got []agent.Result
	var at []time.Time
	ok := testenv.WaitFor(timeout, func() bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		got, at = nil, nil
		for i, r := range rs.got {
			if r.ID == id {
				got, at = append(got, r), append(at, rs.at[i])
			}
		}
		return len(got) >= n
	})
	if !ok {
		t.Fatalf("%d result(s) for %s within %v, want %d: %+v", len(got), id, timeout, n, got)
	}
	return got, at
}

// publisher connects to Redis for publishing requests.
func publisher(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c, err := redis.Dial(redis.Options{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// publish publishes msg and fails unless exactly want subscribers got it.
// A connection error is retried for a few seconds: the client redials on
// the next call after a server restart.
func publish(t *testing.T, c *redis.Client, channel string, msg []byte, want int64) {
	t.Helper()
	var (
		n   int64
		err error
	)
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err = c.Publish(ctx, channel, msg)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || n != want {
		t.Fatalf("PUBLISH %s: %d subscribers, %v; want %d", channel, n, err, want)
	}
}

// waitSubscribed waits until n clients subscribe to channel.
func waitSubscribed(t *testing.T, r *testenv.Redis, channel string, n int, timeout time.Duration) {
	t.Helper()
	ok := testenv.WaitFor(timeout, func() bool {
		out, err := r.CLI("PUBSUB", "NUMSUB", channel)
		return err == nil && strings.HasSuffix(out, "\n"+strconv.Itoa(n))
	})
	if !ok {
		t.Fatalf("%d subscribers to %s not reached within %v", n, channel, timeout)
	}
}

// frames returns n UDP frames to port 9999 on p, numbered in their payload.
func frames(p *netns.Pair, n int, tag string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = udpFrame(p, 9999, []byte(fmt.Sprintf("%s-%d", tag, i)))
	}
	return out
}

// send transmits frames out of the pair's peer.
func send(t *testing.T, p *netns.Pair, fs [][]byte) {
	t.Helper()
	if err := p.Send(fs); err != nil {
		t.Fatalf("send on %s: %v", p.Host, err)
	}
}

// waitArmed waits until request id's captures are running (sockets armed).
func waitArmed(t *testing.T, api, id string) {
	t.Helper()
	ok := testenv.WaitFor(10*time.Second, func() bool {
		s, found := lookup(t, api, id)
		return found && s.State == "running"
	})
	if !ok {
		s, _ := lookup(t, api, id)
		t.Fatalf("request %s never ran: %+v", id, s)
	}
}

// memStatus returns VmHWM and VmRSS of pid, in KiB, from /proc/PID/status.
func memStatus(t *testing.T, pid int) (hwm, rss int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		}
	}
	return hwm, rss
}

// alive reports whether the daemon process is still running.
func (d *daemon) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// requireTools skips (or fails in CI) when an external tool is missing.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			testenv.Skip(t, n+" not installed")
		}
	}
}
