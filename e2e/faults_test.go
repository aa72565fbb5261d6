package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The fault tests run the real binary against real servers and make each
// dependency fail in the middle of a run. Each logs the figures the
// closing report quotes (t.Logf, visible with -v).

// redisFaultDaemon starts what the Redis fault tests share: a veth pair, a
// real redis-server and the daemon (Redis source, HTTP API, local files in
// dir), subscribed to "capture".
func redisFaultDaemon(t *testing.T) (pair *netns.Pair, rd *testenv.Redis, dir, api string, d *daemon) {
	t.Helper()
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump", "redis-cli")
	pair = netns.NewVethPair(t)
	rd = testenv.StartRedis(t)
	dir = t.TempDir()
	port := testenv.FreePort(t)
	api = apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{redisPort: rd.Port, httpPort: port, localDir: dir})
	d = startDaemon(t, "-config", cfg)
	waitSubscribed(t, rd, "capture", 1, 15*time.Second)
	return pair, rd, dir, api, d
}

// TestFaultRedisRestart kills redis-server during a capture and starts it
// again: the capture is unaffected, the daemon logs one line per state
// change however many reconnect attempts it makes, /readyz and source_up
// follow the state, and it serves again once Redis is back.
func TestFaultRedisRestart(t *testing.T) {
	pair, rd, dir, api, d := redisFaultDaemon(t)
	pub := publisher(t, rd.Addr)
	if code, body := testenv.GetText(t, api+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz while subscribed: %d\n%s", code, body)
	}

	// A capture that is running when Redis goes away.
	publish(t, pub, "capture", []byte(`{"id":"during-outage","node":"any","interface":["`+pair.Host+`"],
		"bpf":"udp and dst port 9999","packets":6,"timeout":30}`), 1)
	waitArmed(t, api, "during-outage")
	send(t, pair, frames(pair, 3, "before"))

	rd.Stop()
	down := time.Now()
	// Reconnect attempts back off from 100ms: in 3s the daemon makes
	// several, and must log the loss once.
	time.Sleep(3 * time.Second)
	send(t, pair, frames(pair, 3, "during"))
	st := waitDone(t, api, "during-outage", 10*time.Second)
	if len(st.Results) != 1 || st.Results[0].Status != agent.StatusOK || st.Results[0].Packets != 6 {
		t.Errorf("capture during the outage: %+v, want ok with 6 packets", st.Results)
	}
	file := filepath.Join(dir, filepath.Base(st.Results[0].Locations[0]))
	if n := len(tcpdumpRead(t, file)); n != 6 {
		t.Errorf("tcpdump -r %s: %d packets, want 6", file, n)
	}
	code, body := testenv.GetText(t, api+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "[-]redis") {
		t.Errorf("/readyz with Redis down: %d\n%s", code, body)
	}
	m := testenv.Scrape(t, api)
	if v := m[series("pcapdaemon_source_up", "source", "redis")]; v != 0 {
		t.Errorf("source_up{redis} = %v with Redis down", v)
	}

	rd.Start()
	up := time.Now()
	waitSubscribed(t, rd, "capture", 1, 20*time.Second)
	resub := time.Since(up)
	if !testenv.WaitFor(5*time.Second, func() bool { c, _ := testenv.GetText(t, api+"/readyz"); return c == http.StatusOK }) {
		t.Error("/readyz not 200 after Redis came back")
	}
	t.Logf("redis down %v; resubscribed %v after the restart", up.Sub(down).Round(time.Millisecond), resub.Round(time.Millisecond))

	// Serving again: a request over Redis captures.
	res := subscribeResults(t, rd.Addr, "capture.results")
	publish(t, pub, "capture", []byte(`{"id":"after-restart","node":"any","interface":["`+pair.Host+`"],
		"bpf":"udp and dst port 9999","packets":2,"timeout":30}`), 1)
	waitArmed(t, api, "after-restart")
	send(t, pair, frames(pair, 2, "after"))
	r := res.waitID(t, "after-restart", 1, 10*time.Second)[0]
	if r.Status != agent.StatusOK || r.Packets != 2 {
		t.Errorf("after the restart: %+v", r)
	}

	lost := logLines(d, "redis: connection lost")
	subscribed := logLines(d, "redis: subscribed")
	if len(lost) != 1 || len(subscribed) != 2 {
		t.Errorf("state-change log lines: %d \"connection lost\" (want 1), %d \"subscribed\" (want 2):\n%s",
			len(lost), len(subscribed), strings.Join(append(lost, subscribed...), "\n"))
	}
	t.Logf("log lines for one outage: %q", lost)
}

// TestFaultSIGTERMDuringCapture sends SIGTERM while a long capture runs: the
// capture ends early with stop reason shutdown, its file is written, its
// result is published on capture.results, and the process exits 0 well
// within the grace period.
func TestFaultSIGTERMDuringCapture(t *testing.T) {
	pair, rd, dir, api, d := redisFaultDaemon(t)
	res := subscribeResults(t, rd.Addr, "capture.results")
	pub := publisher(t, rd.Addr)

	publish(t, pub, "capture", []byte(`{"id":"long-one","node":"any","interface":["`+pair.Host+`"],
		"bpf":"udp and dst port 9999","packets":10000,"duration":60,"timeout":60}`), 1)
	waitArmed(t, api, "long-one")
	sent := frames(pair, 5, "term")
	send(t, pair, sent)
	time.Sleep(300 * time.Millisecond) // let the ring's block retire

	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("daemon still running 15s after SIGTERM\n%s", d.Logs())
	}
	took := time.Since(start)
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, d.Logs())
	}
	r := res.waitID(t, "long-one", 1, 5*time.Second)[0]
	if r.Status != agent.StatusOK || r.StopReason != agent.StopShutdown || r.Packets != 5 || len(r.Locations) != 1 {
		t.Fatalf("result after SIGTERM: %+v, want ok, stop_reason shutdown, 5 packets, one location", r)
	}
	file := r.Locations[0]
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, filepath.Base(file))
	}
	checkPcapFile(t, file, sent)
	if n := len(tcpdumpRead(t, file)); n != 5 {
		t.Errorf("tcpdump -r %s: %d packets, want 5", file, n)
	}
	t.Logf("SIGTERM to exit: %v (grace 10s); result %s/%s with %d packets", took.Round(time.Millisecond), r.Status, r.StopReason, r.Packets)
}

// TestFaultSIGHUPAlias rewrites the config so that an alias names another
// interface and sends SIGHUP: a capture already running on the old
// interface carries on to its end, a new request through the alias
// captures on the new interface, and a broken config on a second SIGHUP is
// refused with the running configuration kept.
func TestFaultSIGHUPAlias(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump")
	a, b := netns.NewVethPair(t), netns.NewVethPair(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	conf := daemonConf{httpPort: port, localDir: dir, aliases: [][2]string{{a.Host, "moving"}},
		general: []string{"maxconcurrent = 4"}}
	writeConf(t, cfg, conf)
	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api)

	post := func(id, alias string, packets int) {
		t.Helper()
		code, reply := httpPost(t, api+"/v1/captures", fmt.Sprintf(`{"id":%q,"node":"any","alias":[%q],
			"bpf":"udp and dst port 9999","packets":%d,"timeout":30}`, id, alias, packets))
		if code != http.StatusAccepted {
			t.Fatalf("POST %s: %d %v", id, code, reply)
		}
	}
	post("old-alias", "moving", 6)
	waitArmed(t, api, "old-alias")
	send(t, a, frames(a, 3, "a1"))

	conf.aliases = [][2]string{{b.Host, "moving"}}
	conf.general = []string{"maxconcurrent = 3"}
	writeConf(t, cfg, conf)
	hupAt := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "configuration reloaded", 10*time.Second)
	t.Logf("SIGHUP to reloaded: %v", time.Since(hupAt).Round(time.Millisecond))

	post("new-alias", "moving", 3)
	waitArmed(t, api, "new-alias")
	s, _ := lookup(t, api, "new-alias")
	if len(s.Results) != 0 || len(logLines(d, "id=new-alias interfaces=["+b.Host+"]")) != 1 {
		t.Fatalf("alias \"moving\" after the reload does not capture on %s:\n%s", b.Host, strings.Join(logLines(d, "new-alias"), "\n"))
	}
	send(t, b, frames(b, 3, "b"))
	nr := waitDone(t, api, "new-alias", 10*time.Second).Results
	if len(nr) != 1 || nr[0].Interface != b.Host || nr[0].Packets != 3 || nr[0].Status != agent.StatusOK {
		t.Errorf("new-alias: %+v, want 3 packets on %s", nr, b.Host)
	} else if !strings.Contains(nr[0].Locations[0], "-"+b.Host+"-") {
		t.Errorf("new-alias file %s is not named after %s", nr[0].Locations[0], b.Host)
	}

	// The capture started before the reload is still running; it ends on
	// its own limit with every packet.
	if s, _ := lookup(t, api, "old-alias"); s.State != "running" {
		t.Fatalf("old-alias after the reload: %+v, want still running", s)
	}
	send(t, a, frames(a, 3, "a2"))
	or := waitDone(t, api, "old-alias", 10*time.Second).Results
	if len(or) != 1 || or[0].Interface != a.Host || or[0].Packets != 6 || or[0].StopReason != agent.StopPackets {
		t.Errorf("old-alias: %+v, want 6 packets on %s stopped by the packet limit", or, a.Host)
	} else if n := len(tcpdumpRead(t, filepath.Join(dir, filepath.Base(or[0].Locations[0])))); n != 6 {
		t.Errorf("old-alias file: %d packets, want 6", n)
	}
	m := testenv.Scrape(t, api)
	if v := m[series("pcapdaemon_config_reloads_total", "result", "ok")]; v != 1 {
		t.Errorf("config_reloads_total{ok} = %v, want 1", v)
	}

	// A broken file: refused, counted, and the running configuration
	// (alias on b) stays.
	if err := os.WriteFile(cfg, []byte("[general\nmaxconcurrent = \"many\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "configuration reload failed; the running configuration is kept", 10*time.Second)
	if !d.alive() {
		t.Fatal("daemon died on a broken config")
	}
	post("after-bad-reload", "moving", 1)
	waitArmed(t, api, "after-bad-reload")
	send(t, b, frames(b, 1, "b2"))
	if r := waitDone(t, api, "after-bad-reload", 10*time.Second).Results; len(r) != 1 || r[0].Interface != b.Host {
		t.Errorf("after a failed reload: %+v, want a capture on %s", r, b.Host)
	}
	m = testenv.Scrape(t, api)
	if v := m[series("pcapdaemon_config_reloads_total", "result", "error")]; v != 1 {
		t.Errorf("config_reloads_total{error} = %v, want 1", v)
	}
}

// TestFaultVethDeleted deletes the interface of one running capture while
// another runs on a second interface: the first ends at once with what it
// had and an error in its result, the second carries on to its own limit.
func TestFaultVethDeleted(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump", "ip")
	a, b := netns.NewVethPair(t), netns.NewVethPair(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{httpPort: port, localDir: dir})
	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api)

	for _, r := range []struct{ id, iface string }{{"on-deleted", a.Host}, {"on-survivor", b.Host}} {
		code, reply := httpPost(t, api+"/v1/captures", fmt.Sprintf(`{"id":%q,"node":"any","interface":[%q],
			"bpf":"udp and dst port 9999","packets":6,"duration":60,"timeout":40}`, r.id, r.iface))
		if code != http.StatusAccepted {
			t.Fatalf("POST %s: %d %v", r.id, code, reply)
		}
		waitArmed(t, api, r.id)
	}
	sentA := frames(a, 3, "a")
	send(t, a, sentA)
	send(t, b, frames(b, 3, "b1"))
	time.Sleep(300 * time.Millisecond) // let the ring blocks retire

	deleted := time.Now()
	if out, err := exec.Command("ip", "link", "del", a.Host).CombinedOutput(); err != nil {
		t.Fatalf("ip link del %s: %v %s", a.Host, err, out)
	}
	ra := waitDone(t, api, "on-deleted", 20*time.Second).Results
	endedAfter := time.Since(deleted)
	if len(ra) != 1 {
		t.Fatalf("on-deleted: %+v", ra)
	}
	r := ra[0]
	t.Logf("capture on the deleted veth ended %v after the deletion: status %s, stop_reason %q, %d packets, error %q",
		endedAfter.Round(time.Millisecond), r.Status, r.StopReason, r.Packets, r.Error)
	if r.Status != agent.StatusError || r.Error == "" || !strings.Contains(r.Error, a.Host) {
		t.Errorf("on-deleted: status %s error %q, want an error naming %s", r.Status, r.Error, a.Host)
	}
	if r.Packets != 3 || len(r.Locations) != 1 {
		t.Errorf("on-deleted: %d packets at %v, want the 3 it had, delivered", r.Packets, r.Locations)
	} else {
		checkPcapFile(t, filepath.Join(dir, filepath.Base(r.Locations[0])), sentA)
	}
	if endedAfter > 5*time.Second {
		t.Errorf("on-deleted ended %v after the deletion: it waited for a timeout instead of noticing", endedAfter)
	}

	if s, _ := lookup(t, api, "on-survivor"); s.State != "running" {
		t.Fatalf("on-survivor after the other interface went away: %+v", s)
	}
	send(t, b, frames(b, 3, "b2"))
	rb := waitDone(t, api, "on-survivor", 10*time.Second).Results
	if len(rb) != 1 || rb[0].Status != agent.StatusOK || rb[0].Packets != 6 || rb[0].StopReason != agent.StopPackets {
		t.Errorf("on-survivor: %+v, want ok with 6 packets", rb)
	} else if n := len(tcpdumpRead(t, filepath.Join(dir, filepath.Base(rb[0].Locations[0])))); n != 6 {
		t.Errorf("on-survivor file: %d packets, want 6", n)
	}
	if !d.alive() {
		t.Fatal("daemon died")
	}
}

// TestFaultAdmission publishes twenty requests at once against
// maxconcurrent = 4 and a small maxmemory: exactly the admitted ones
// capture, the others get a rejected result saying which budget they did
// not fit, and the memory reserved never exceeds the budget.
//
// The requests are processed in the order published (one Redis
// connection, one submit loop), so which are admitted is known: a first
// "medium" one that reserves about half the budget, a "huge" one that would
// not fit even an empty budget, two small ones, a "big" one that does not
// fit the memory left, one more small one (the fourth capture), and
// fourteen small ones over the concurrency cap. (The sizes follow the
// agent's reservation: a ring sized from the limits (8 MiB for 5 packets,
// 12 MiB for the medium one's 10 MB) plus the chunks the limits allow:
// medium 22 MiB, small 10 MiB, so that medium, two small (42 MiB) leave
// too little for big and room for one more small.)
func TestFaultAdmission(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump", "redis-cli")
	pair := netns.NewVethPair(t)
	rd := testenv.StartRedis(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	const budget = 56 << 20
	writeConf(t, cfg, daemonConf{redisPort: rd.Port, httpPort: port, localDir: dir,
		general: []string{"maxconcurrent = 4", fmt.Sprintf("maxmemory = %d", budget), "maxbytes = 100000000"}})
	d := startDaemon(t, "-config", cfg)
	waitSubscribed(t, rd, "capture", 1, 15*time.Second)
	res := subscribeResults(t, rd.Addr, "capture.results")
	pub := publisher(t, rd.Addr)

	type req struct {
		id, kind string
		bytes    int
		admitted bool
		reason   string // in the rejection's error
	}
	var reqs []req
	add := func(kind string, bytes int, admitted bool, reason string) {
		reqs = append(reqs, req{fmt.Sprintf("adm-%02d-%s", len(reqs), kind), kind, bytes, admitted, reason})
	}
	add("medium", 10_000_000, true, "")
	add("huge", 100_000_000, false, "more than the whole")
	add("small", 0, true, "")
	add("small", 0, true, "")
	add("big", 30_000_000, false, "bytes of memory, ")
	add("small", 0, true, "")
	for range 14 {
		add("small", 0, false, "captures running, the limit is 4")
	}

	msgs := make([][]byte, len(reqs))
	for i, r := range reqs {
		limits := `"packets":5`
		if r.bytes > 0 {
			// The reservation follows the byte limit when the packet limit
			// allows that many bytes.
			limits = fmt.Sprintf(`"packets":50000,"bytes":%d,"duration":4`, r.bytes)
		}
		msgs[i] = []byte(fmt.Sprintf(`{"id":%q,"node":"any","interface":[%q],"bpf":"udp and dst port 9999","timeout":30,%s}`,
			r.id, pair.Host, limits))
	}
	// One at a time: the Redis transport submits several messages at once,
	// in no set order, and each admission here depends on the ones before.
	taken := func() float64 {
		var n float64
		for k, v := range testenv.Scrape(t, api) {
			if strings.HasPrefix(k, "pcapdaemon_requests_total{") && strings.Contains(k, `source="redis"`) {
				n += v
			}
		}
		return n
	}
	for i, m := range msgs {
		publish(t, pub, "capture", m, 1)
		if !testenv.WaitFor(10*time.Second, func() bool { return taken() > float64(i) }) {
			t.Fatalf("request %s not taken within 10s", reqs[i].id)
		}
	}

	// The rejections are immediate; the admitted ones are now capturing.
	for _, r := range reqs {
		if r.admitted {
			continue
		}
		got := res.waitID(t, r.id, 1, 10*time.Second)[0]
		if got.Status != agent.StatusRejected || !strings.Contains(got.Error, "not admitted") || !strings.Contains(got.Error, r.reason) {
			t.Errorf("%s: %s %q, want rejected naming %q", r.id, got.Status, got.Error, r.reason)
		}
	}
	m := testenv.Scrape(t, api)
	active, reserved := m["pcapdaemon_captures_active"], m["pcapdaemon_memory_reserved_bytes"]
	t.Logf("after 20 requests: %v captures active, %v of %d bytes reserved; rejected: %v",
		active, reserved, budget, m[series("pcapdaemon_requests_total", "outcome", "rejected", "reason", "not_admitted", "source", "redis")])
	if active != 4 || reserved > budget || reserved == 0 {
		t.Errorf("captures_active %v (want 4), memory_reserved_bytes %v (want ≤ %d)", active, reserved, budget)
	}
	if v := m[series("pcapdaemon_requests_total", "outcome", "rejected", "reason", "not_admitted", "source", "redis")]; v != 16 {
		t.Errorf("requests_total{rejected,not_admitted} = %v, want 16", v)
	}

	// Traffic until every admitted capture has its file: the small ones
	// stop at 5 packets, the medium one at its 4s duration.
	sendUntil(t, pair, frames(pair, 5, "adm"), func() bool {
		for _, r := range reqs {
			if r.admitted && len(res.byID(r.id)) == 0 {
				return false
			}
		}
		return true
	})
	files := map[string]bool{}
	for _, f := range visibleNames(dir) {
		files[filepath.Base(f)] = true
	}
	for _, r := range reqs {
		got := res.byID(r.id)
		if len(got) != 1 {
			t.Errorf("%s: %d results, want 1: %+v", r.id, len(got), got)
			continue
		}
		hasFile := false
		for f := range files {
			if strings.HasSuffix(f, "-"+r.id+".pcap") {
				hasFile = true
				if r.admitted && len(tcpdumpRead(t, filepath.Join(dir, f))) == 0 {
					t.Errorf("%s: file %s has no packets", r.id, f)
				}
			}
		}
		switch {
		case r.admitted && (got[0].Status != agent.StatusOK || !hasFile):
			t.Errorf("admitted %s: %+v, file %v; want ok with a file", r.id, got[0], hasFile)
		case !r.admitted && hasFile:
			t.Errorf("rejected %s has a capture file", r.id)
		}
	}
	if n := len(files); n != 4 {
		t.Errorf("%d capture files, want 4: %v", n, files)
	}
	if !d.alive() {
		t.Fatal("daemon died")
	}
}

// TestDaemonWithoutCapNetRaw runs the daemon without CAP_NET_RAW (root with
// the capability dropped from every set): it still starts and serves —
// the README's first command, `go run .` as an ordinary user, must work —
// but says what is missing in its log, on /readyz and in
// pcapdaemon_capture_capable, and a capture's result says it too.
func TestDaemonWithoutCapNetRaw(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "setpriv")
	dir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{httpPort: port, localDir: dir})
	d := startDaemonCmd(t, exec.Command("setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", "--", daemonBinary(t), "-config", cfg),
		syscall.SIGTERM, 10*time.Second, "daemon log")
	waitHTTP(t, d, api)
	if lines := logLines(d, "packet capture is not possible"); len(lines) != 1 || !strings.Contains(lines[0], "CAP_NET_RAW") {
		t.Errorf("start-up log does not say CAP_NET_RAW is missing: %q", lines)
	}
	code, body := testenv.GetText(t, api+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "[-]capture: ") || !strings.Contains(body, "CAP_NET_RAW") {
		t.Errorf("/readyz without CAP_NET_RAW: %d\n%s", code, body)
	}
	if v := testenv.Scrape(t, api)["pcapdaemon_capture_capable"]; v != 0 {
		t.Errorf("capture_capable = %v without CAP_NET_RAW", v)
	}
	code, reply := httpPost(t, api+"/v1/captures", `{"id":"no-cap","node":"any","interface":["lo"],"duration":1}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, reply)
	}
	r := waitDone(t, api, "no-cap", 10*time.Second).Results
	if len(r) != 1 || r[0].Status != agent.StatusError || !strings.Contains(r[0].Error, "CAP_NET_RAW") || !strings.Contains(r[0].Error, "setcap") {
		t.Errorf("capture without CAP_NET_RAW: %+v, want an error saying what is missing and how to grant it", r)
	}
}
