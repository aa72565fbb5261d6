package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestFaultKillDuringCapture kills the daemon (SIGKILL, by the PID this
// test started) while a capture runs, with [general] spooldir set, and
// starts it again: the interrupted capture gets a result with status
// error and stop_reason restart on capture.results and on GET, the
// journal of running requests is empty afterwards, and a capture that had
// finished before the kill is not reported again.
func TestFaultKillDuringCapture(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "redis-cli")
	pair := netns.NewVethPair(t)
	rd := testenv.StartRedis(t)
	spoolDir, localDir := t.TempDir(), t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{redisPort: rd.Port, httpPort: port, localDir: localDir, spoolDir: spoolDir})
	journal := filepath.Join(spoolDir, "journal")

	d := startDaemon(t, "-config", cfg)
	waitSubscribed(t, rd, "capture", 1, 15*time.Second)
	res := subscribeResults(t, rd.Addr, "capture.results")

	// A capture that ends before the kill ("a-" sorts before "b-": had it
	// stayed in the journal, its restart result would come first).
	post := func(body string) {
		t.Helper()
		if code, reply := httpPost(t, api+"/v1/captures", body); code != http.StatusAccepted {
			t.Fatalf("POST %s: %d %v", body, code, reply)
		}
	}
	post(`{"id":"a-finished","node":"any","interface":["` + pair.Host + `"],"bpf":"udp and dst port 9999","packets":2,"timeout":30}`)
	waitArmed(t, api, "a-finished")
	send(t, pair, frames(pair, 2, "fin"))
	if r := res.waitID(t, "a-finished", 1, 10*time.Second)[0]; r.Status != agent.StatusOK {
		t.Fatalf("finished capture: %+v", r)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return len(testenv.ReadDirNames(journal)) == 0 }) {
		t.Fatalf("journal after the finished capture's result: %v, want empty", testenv.ReadDirNames(journal))
	}

	post(`{"id":"b-killed","node":"any","interface":["` + pair.Host + `"],"bpf":"udp and dst port 9999","packets":1000,"duration":60,"timeout":60}`)
	waitArmed(t, api, "b-killed")
	if _, err := os.Stat(filepath.Join(journal, "b-killed.json")); err != nil {
		t.Fatalf("running request not in the journal: %v", err)
	}
	send(t, pair, frames(pair, 3, "lost"))
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("daemon still running 10s after SIGKILL")
	}
	killed := time.Now()
	if got := res.byID("b-killed"); len(got) != 0 {
		t.Fatalf("a result from the killed daemon: %+v", got)
	}

	d2 := startDaemon(t, "-config", cfg)
	r := res.waitID(t, "b-killed", 1, 20*time.Second)[0]
	t.Logf("restart result %v after the kill: %+v", time.Since(killed).Round(time.Millisecond), r)
	if r.Status != agent.StatusError || r.StopReason != agent.StopRestart || !strings.HasPrefix(r.Error, "restart:") ||
		r.Interface != pair.Host || r.Node == "" || len(r.Locations) != 0 {
		t.Errorf("result after the restart: %+v, want status error, stop_reason restart on %s", r, pair.Host)
	}
	if got := res.byID("a-finished"); len(got) != 1 {
		t.Errorf("the finished capture was reported again after the restart: %+v", got)
	}
	waitHTTP(t, d2, api)
	st, ok := lookup(t, api, "b-killed")
	if !ok || st.State != "done" || len(st.Results) != 1 || st.Results[0].StopReason != agent.StopRestart || st.Results[0].Status != agent.StatusError {
		t.Errorf("GET /v1/captures/b-killed after the restart: %+v, %v", st, ok)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return len(testenv.ReadDirNames(journal)) == 0 }) {
		t.Errorf("journal after the restart result: %v, want empty", testenv.ReadDirNames(journal))
	}
	waitLog(t, d2, "reported with status error, stop_reason restart", 5*time.Second)
}
