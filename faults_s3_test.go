package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// faultS3 is a versitygw S3 server (posix backend) that a test stops,
// freezes and starts again on the same port and data.
type faultS3 struct {
	bin, addr, dir, endpoint, access, secret string
	cmd                                      *exec.Cmd
	out                                      bytes.Buffer
	client                                   *s3.Client
}

// startFaultS3 starts versitygw (installed by scripts/testservers.sh) on a
// free loopback port with the given buckets, and kills it when t ends.
func startFaultS3(t *testing.T, buckets ...string) *faultS3 {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			testenv.Skip(t, "versitygw not installed: run scripts/testservers.sh")
		}
	}
	g := &faultS3{bin: bin, dir: t.TempDir(), access: "faultaccess", secret: "faultsecret0123"}
	g.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	g.endpoint = "http://" + g.addr
	g.start(t)
	t.Cleanup(g.kill)
	g.client = s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(g.endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(g.access, g.secret, ""),
		Retryer:     aws.NopRetryer{},
	})
	for _, b := range buckets {
		if _, err := g.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v\n%s", b, err, g.out.String())
		}
	}
	return g
}

// start runs the server and waits until it accepts connections.
func (g *faultS3) start(t *testing.T) {
	t.Helper()
	g.cmd = exec.Command(g.bin, "--access", g.access, "--secret", g.secret, "--port", g.addr, "posix", g.dir)
	g.cmd.Stdout, g.cmd.Stderr = &g.out, &g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ok := testenv.WaitFor(20*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", g.addr, 300*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if !ok {
		t.Fatalf("versitygw did not listen on %s:\n%s", g.addr, g.out.String())
	}
}

// kill kills the server (by its PID) and waits for it; idempotent.
func (g *faultS3) kill() {
	if g.cmd == nil || g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGKILL)
	_ = g.cmd.Wait()
}

// keys lists the bucket's keys (nil when the server does not answer).
func (g *faultS3) keys(bucket string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := g.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		return nil
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// download writes an object to a file and returns its path.
func (g *faultS3) download(t *testing.T, bucket, key string) string {
	t.Helper()
	out, err := g.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), filepath.Base(key))
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFaultS3DownDuringUpload freezes the S3 server so that the daemon's
// upload hangs in flight, then kills it: the upload fails, the capture is
// spooled (the result says so), and once the server is back the spool
// delivers it without any help.
func TestFaultS3DownDuringUpload(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump")
	pair := netns.NewVethPair(t)
	g := startFaultS3(t, "captures")
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
`, g.endpoint, g.access, g.secret)})
	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api)

	code, reply := httpPost(t, api+"/v1/captures", `{"id":"s3-fault","node":"any","interface":["`+pair.Host+`"],
		"bpf":"udp and dst port 9999","packets":4,"timeout":30}`)
	if code != http.StatusAccepted {
		t.Fatalf("POST: %d %v", code, reply)
	}
	waitArmed(t, api, "s3-fault")
	if err := g.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	sent := frames(pair, 4, "s3")
	send(t, pair, sent)
	inflight := series("pcapdaemon_uploads_in_flight", "sink", "s3")
	if !testenv.WaitFor(10*time.Second, func() bool { return scrape(t, api)[inflight] == 1 }) {
		t.Fatalf("no S3 upload in flight while the server is frozen\n%s", d.Logs())
	}
	time.Sleep(500 * time.Millisecond) // the PUT is sent and waits for an answer
	g.kill()
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
	m := scrape(t, api)
	if v := m[series("pcapdaemon_upload_failures_total", "sink", "s3")]; v != 1 {
		t.Errorf("upload_failures_total{s3} = %v, want 1", v)
	}
	if v := m[series("pcapdaemon_upload_bytes_total", "sink", "spool")]; v == 0 {
		t.Error("upload_bytes_total{spool} = 0 after spooling")
	}

	g.start(t)
	restarted := time.Now()
	var key string
	ok := testenv.WaitFor(30*time.Second, func() bool {
		for _, k := range g.keys("captures") {
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
	f := g.download(t, "captures", key)
	checkPcapFile(t, f, sent)
	if n := len(tcpdumpRead(t, f)); n != 4 {
		t.Errorf("object from S3: %d packets, want 4", n)
	}
	if !testenv.WaitFor(5*time.Second, func() bool {
		for _, n := range testenv.ReadDirNames(spoolDir) {
			if !strings.HasPrefix(filepath.Base(n), ".") {
				return false
			}
		}
		return true
	}) {
		t.Errorf("spool not emptied after delivery: %v", testenv.ReadDirNames(spoolDir))
	}
	if v := scrape(t, api)[series("pcapdaemon_upload_duration_seconds_count", "outcome", "ok", "sink", "s3")]; v != 1 {
		t.Errorf("upload_duration_seconds_count{s3,ok} = %v, want 1 (the spool's delivery)", v)
	}
}
