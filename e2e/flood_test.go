package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// floodDNS is the address of the test's DNS server that never answers:
// port 53 (a resolv.conf names no port) of a loopback address nothing else
// uses.
const floodDNS = "127.83.0.53"

// startDaemonSlowDNS runs the daemon binary with config file cfg in a
// mount namespace of its own where /etc/resolv.conf names floodDNS only,
// so that every filter naming a host waits for a DNS server that never
// answers. The host's /etc/resolv.conf is not touched.
func startDaemonSlowDNS(t *testing.T, cfg string) (*daemon, *testenv.SilentDNS) {
	t.Helper()
	testenv.RequireRoot(t)
	requireTools(t, "unshare", "mount", "redis-cli")
	dns := testenv.StartSilentDNSOn(t, floodDNS+":53")
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+floodDNS+"\noptions timeout:30 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// unshare and sh exec in turn: the PID is the daemon's.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" /etc/resolv.conf && exec "$1" -config "$2"`, resolv, daemonBinary(t), cfg)
	return startDaemonCmd(t, cmd, os.Interrupt, 15*time.Second, "daemon log"), dns
}

// TestRedisOversizeFlood floods a running daemon with 50 Redis messages of
// 20 MB each while six requests wait on a DNS server that never answers:
// the daemon drops every oversize message as it arrives, answers each with
// a rejected result naming the size limit, and its memory stays far below
// what the flood carries. The server's pub/sub output buffer limit is off,
// so every byte reaches the daemon: it must bound its memory itself.
func TestRedisOversizeFlood(t *testing.T) {
	const (
		node      = "flood-node"
		channel   = "capture"
		slow      = 6
		messages  = 50
		size      = 20 << 20
		hwmLimitK = 320 << 10 // KiB; the flood is 1000 MiB
	)
	testenv.RequireRoot(t)
	rd := testenv.StartRedis(t, "--client-output-buffer-limit", "pubsub", "0", "0", "0")
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{redisPort: rd.Port, channel: channel, httpPort: port, localDir: t.TempDir(),
		general: []string{"hostname = " + quote(node)}})
	d, dns := startDaemonSlowDNS(t, cfg)
	waitSubscribed(t, rd, channel, 1, 15*time.Second)
	res := subscribeResults(t, rd.Addr, channel+".results")
	pub := publisher(t, rd.Addr)
	pid := d.cmd.Process.Pid
	_, rss0 := memStatus(t, pid)

	for i := range slow {
		publish(t, pub, channel, fmt.Appendf(nil, `{"id":"slow%d","node":%q,"interface":["lo"],"bpf":"host slow%d.example.net","timeout":1}`, i, node, i), 1)
	}
	if !testenv.WaitFor(10*time.Second, func() bool { return dns.Queries() > 0 }) {
		t.Fatal("the daemon sent no DNS query for the slow filters")
	}
	start := time.Now()
	tail := strings.Repeat("x", size)
	for i := range messages {
		publish(t, pub, channel, fmt.Appendf(nil, `{"id":"flood%02d","node":"any","tags":"%s"}`, i, tail), 1)
	}
	published := time.Since(start)
	// Every flood message is taken: dropped on arrival, or rejected by the
	// Guard once the slow requests let it through.
	taken := func() float64 {
		m := testenv.Scrape(t, api)
		return m[series("pcapdaemon_requests_dropped_total", "source", "redis")] +
			m[series("pcapdaemon_requests_total", "source", "redis", "outcome", "rejected", "reason", "too_large")]
	}
	if !testenv.WaitFor(90*time.Second, func() bool { return taken() >= messages }) {
		t.Fatalf("the daemon took %v of %d flood messages within 90s", taken(), messages)
	}
	hwm, rss := memStatus(t, pid)
	t.Logf("flood of %d x %d MiB published in %v, taken in %v; daemon VmRSS %d KiB before, %d KiB after; VmHWM %d KiB",
		messages, size>>20, published.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), rss0, rss, hwm)
	if !d.alive() {
		t.Fatalf("daemon died under the flood\n%s", d.Logs())
	}
	if hwm > hwmLimitK {
		t.Errorf("VmHWM %d KiB under a flood of oversize messages, want at most %d KiB", hwm, hwmLimitK)
	}
	for i := range messages {
		r := res.waitID(t, fmt.Sprintf("flood%02d", i), 1, 15*time.Second)
		if len(r) != 1 || r[0].Status != agent.StatusRejected || r[0].Node != node ||
			!strings.Contains(r[0].Error, "too_large") || !strings.Contains(r[0].Error, "exceeds the limit of 65536 bytes") {
			t.Errorf("flood%02d: results %+v, want one rejected as too large", i, r)
		}
	}
	for i := range slow {
		r := res.waitID(t, fmt.Sprintf("slow%d", i), 1, 15*time.Second)
		if len(r) != 1 || r[0].Status != agent.StatusRejected || !strings.Contains(r[0].Error, "no answer") {
			t.Errorf("slow%d: results %+v, want one rejected for its unanswered name", i, r)
		}
	}
	if m := testenv.Scrape(t, api); m[series("pcapdaemon_requests_dropped_total", "source", "redis")] != messages {
		t.Errorf("requests_dropped_total{redis} = %v, want %d", m[series("pcapdaemon_requests_dropped_total", "source", "redis")], messages)
	}
}
