package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// s3KeysNow lists the bucket's keys (nil when the server does not answer
// within 2s).
func s3KeysNow(g *sinktest.VersityGW, bucket string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	keys, _ := g.ListKeys(ctx, bucket)
	return keys
}

// TestFaultS3DownDuringUpload freezes the S3 server so that the daemon's
// upload hangs in flight, then kills it: the upload fails, the capture is
// spooled (the result says so), and once the server is back the spool
// delivers it without any help.
func TestFaultS3DownDuringUpload(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump")
	pair := netns.NewVethPair(t)
	g := startCloudS3(t, "captures")
	spoolDir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{httpPort: port, spoolDir: spoolDir, extra: fmt.Sprintf(`
[s3]
upload = true
endpoint = %q
bucket = "captures"
folder = "faults"
region = "us-east-1"
pathstyle = true
accessid = %q
accesskey = %q
`, g.Endpoint, g.Access, g.Secret)})
	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api)

	code, reply := httpPost(t, api+"/v1/captures", `{"id":"s3-fault","node":"any","interface":["`+pair.Host+`"],
		"bpf":"udp and dst port 9999","packets":4,"timeout":30}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, reply)
	}
	waitArmed(t, api, "s3-fault")
	if err := g.Process.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	sent := frames(pair, 4, "s3")
	send(t, pair, sent)
	inflight := series("pcapdaemon_uploads_in_flight", "sink", "s3")
	if !testenv.WaitFor(10*time.Second, func() bool { return testenv.Scrape(t, api)[inflight] == 1 }) {
		t.Fatalf("no S3 upload in flight while the server is frozen\n%s", d.Logs())
	}
	time.Sleep(500 * time.Millisecond) // the PUT is sent and waits for an answer
	g.Stop()
	killed := time.Now()

	st := waitDone(t, api, "s3-fault", 30*time.Second)
	if len(st.Results) != 1 {
		t.Fatalf("results: %+v", st.Results)
	}
	r := st.Results[0]
	t.Logf("upload failed %v after the server was killed; result: status %s, error %q, locations %v",
		time.Since(killed).Round(time.Millisecond), r.Status, r.Error, r.Locations)
	if r.Status != agent.StatusError || !strings.Contains(r.Error, "spooled") || r.Packets != 4 {
		t.Errorf("result with S3 down: %+v, want status error saying the capture was spooled", r)
	}
	if len(r.Locations) != 1 || !strings.HasPrefix(r.Locations[0], spoolDir) {
		t.Errorf("result locations %v, want the spooled file in %s", r.Locations, spoolDir)
	} else if n := len(tcpdumpRead(t, r.Locations[0])); n != 4 {
		t.Errorf("spooled file: %d packets, want 4", n)
	}
	m := testenv.Scrape(t, api)
	if v := m[series("pcapdaemon_upload_failures_total", "sink", "s3")]; v != 1 {
		t.Errorf("upload_failures_total{s3} = %v, want 1", v)
	}
	if v := m[series("pcapdaemon_upload_bytes_total", "sink", "spool")]; v == 0 {
		t.Error("upload_bytes_total{spool} = 0 after spooling")
	}

	g.Restart(t)
	restarted := time.Now()
	var key string
	ok := testenv.WaitFor(30*time.Second, func() bool {
		for _, k := range s3KeysNow(g, "captures") {
			if strings.HasSuffix(k, "-s3-fault.pcap") {
				key = k
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("spooled capture not in S3 within 30s of the restart\n%s", d.Logs())
	}
	t.Logf("spool delivered s3://captures/%s %v after the S3 server came back", key, time.Since(restarted).Round(time.Millisecond))
	// The result follows: status ok, the object's location, no error.
	var after agent.Result
	if !testenv.WaitFor(10*time.Second, func() bool {
		st, _ := lookup(t, api, "s3-fault")
		if len(st.Results) == 1 {
			after = st.Results[0]
		}
		return after.Status == agent.StatusOK
	}) {
		t.Errorf("GET /v1/captures/s3-fault after the spool delivered it: %+v, want status ok", after)
	}
	if len(after.Locations) != 1 || !strings.HasSuffix(after.Locations[0], key) || after.Error != "" || after.Packets != 4 {
		t.Errorf("result after the spool delivered it: %+v, want ok at the S3 object %s, no error", after, key)
	}
	f, _ := g.Download(t, "captures", key)
	checkPcapFile(t, f, sent)
	if n := len(tcpdumpRead(t, f)); n != 4 {
		t.Errorf("object from S3: %d packets, want 4", n)
	}
	if !testenv.WaitFor(5*time.Second, func() bool {
		for _, n := range testenv.ReadDirNames(spoolDir) {
			if b := filepath.Base(n); !strings.HasPrefix(b, ".") && b != "journal" && b != "index" {
				return false
			}
		}
		return true
	}) {
		t.Errorf("spool not emptied after delivery: %v", testenv.ReadDirNames(spoolDir))
	}
	if v := testenv.Scrape(t, api)[series("pcapdaemon_upload_duration_seconds_count", "outcome", "ok", "sink", "s3")]; v != 1 {
		t.Errorf("upload_duration_seconds_count{s3,ok} = %v, want 1 (the spool's delivery)", v)
	}
}
