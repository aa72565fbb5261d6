package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The cloud end-to-end test runs the real binary against real servers: SQS
// requests from goaws (in the veth pair's namespace: it binds 0.0.0.0 and
// cannot be told to bind loopback), captures uploaded to versitygw (S3, on
// loopback) and to a Cloudshark test server that implements the documented
// upload API, results on Redis and on SQS result queues, and the request
// command publishing and waiting.

// startCloudS3 starts versitygw on loopback (posix backend) with the
// given buckets.
func startCloudS3(t *testing.T, buckets ...string) *sinktest.VersityGW {
	t.Helper()
	g := sinktest.StartVersityGW(t)
	for _, b := range buckets {
		g.MakeBucket(t, b)
	}
	return g
}

// cloudSQS is a goaws server inside a network namespace.
type cloudSQS struct{ *sinktest.Goaws }

// startCloudSQS runs goaws inside ns, listening on addr:4100 (it binds
// 0.0.0.0 in that namespace only), and makes the queues.
func startCloudSQS(t *testing.T, ns *netns.NS, addr string, queues ...string) *cloudSQS {
	t.Helper()
	q := &cloudSQS{sinktest.StartGoaws(t, ns.Name, addr, 10)}
	for _, name := range queues {
		q.CreateQueue(t, name, nil)
	}
	return q
}

func (q *cloudSQS) url(name string) string { return q.QueueURL(name) }

func (q *cloudSQS) send(t *testing.T, queue, body string) {
	t.Helper()
	q.Send(t, q.url(queue), body)
}

// drain receives (and deletes) every message visible on queue now.
func (q *cloudSQS) drain(t *testing.T, queue string) []string {
	t.Helper()
	c := q.Client()
	var bodies []string
	for range 10 {
		var out *sqs.ReceiveMessageOutput
		var err error
		// A receive the connection failed under (CI once read "use of
		// closed network connection" from goaws) is asked again, a few
		// times: what the test checks is what the queue holds.
		for try := 0; try < 3; try++ {
			out, err = c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(q.url(queue)), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
			})
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond) // a pause before asking again, not a wait
		}
		if err != nil {
			t.Fatalf("receive from %s: %v", queue, err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			_, _ = c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url(queue)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	return bodies
}

// pending returns the messages on queue, visible or in flight.
func (q *cloudSQS) pending(t *testing.T, queue string) int {
	t.Helper()
	out, err := q.Client().GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.url(queue)), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("attributes of %s: %v", queue, err)
	}
	n := 0
	for _, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		v, _ := strconv.Atoi(out.Attributes[k])
		n += v
	}
	return n
}

// subscribeCloudResults is subscribeResults that fails the test, at its
// end, for every message on channel that is not a result.
func subscribeCloudResults(t *testing.T, addr, channel string) *results {
	t.Helper()
	rs := subscribeResults(t, addr, channel)
	t.Cleanup(func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		for _, m := range rs.bad {
			t.Errorf("result %q: not a result", m)
		}
	})
	return rs
}

// cloudCapture sends frames on the pair (every 100ms, at most 30s) until
// a result for id is on the Redis results channel, and returns it.
func cloudCapture(t *testing.T, p *netns.Pair, rs *results, id string, frames [][]byte) agent.Result {
	t.Helper()
	for range 300 {
		if got := rs.byID(id); len(got) > 0 {
			return got[0]
		}
		if err := p.Send(frames); err != nil {
			t.Fatalf("send: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no result for %s within 30s", id)
	return agent.Result{}
}

// cloudConfig is the daemon's TOML for the test: SQS from goaws, the sink
// section given, results on Redis when redisPort is set.
func cloudConfig(t *testing.T, q *cloudSQS, queue, results string, redisPort, httpPort int, sink string) string {
	t.Helper()
	redisSec := "[redis]\nlisten = false\n"
	if redisPort != 0 {
		redisSec = fmt.Sprintf("[redis]\nlisten = true\nhost = \"127.0.0.1\"\nport = %d\nchannel = \"cloud\"\n", redisPort)
	}
	httpSec := "[http]\nlisten = \"\"\n"
	if httpPort != 0 {
		httpSec = fmt.Sprintf("[http]\nlisten = \"127.0.0.1:%d\"\n", httpPort)
	}
	body := fmt.Sprintf(`[general]
writelocal = false
snaplength = 500
defaulttimeout = 10
maxduration = 60
shutdowngrace = 10

[sqs]
listen = true
url = %q
resultsurl = %q
endpoint = %q
protocol = "query"
accessid = "x"
accesskey = "y"
waitseconds = 1

%s
%s
%s`, q.url(queue), q.url(results), q.Endpoint, redisSec, httpSec, sink)
	path := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cloudEnv is the environment of the request command: static AWS
// credentials (goaws ignores them; the SDK wants some) and no instance
// metadata lookups.
func cloudEnv(t *testing.T) []string {
	dir := t.TempDir()
	return append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"))
}

// runCloudRequest runs the binary's request command while sending frames
// on the pair, and returns its exit status, stdout and stderr.
func runCloudRequest(t *testing.T, p *netns.Pair, frames [][]byte, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, daemonBinary(t), append([]string{"request"}, args...)...)
	cmd.Env = cloudEnv(t)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	for i := 0; ; i++ {
		select {
		case err = <-done:
		case <-time.After(100 * time.Millisecond):
			if i < 300 {
				if serr := p.Send(frames); serr != nil {
					t.Errorf("send: %v", serr)
				}
			}
			continue
		}
		break
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("request: %v", err)
	}
	return code, out.String(), errb.String()
}

// checkCapture reads file with tcpdump -r and checks it holds n packets,
// each selected by the filter.
func checkCloudFile(t *testing.T, file string, n int) {
	t.Helper()
	lines := tcpdumpRead(t, file)
	if len(lines) != n {
		t.Errorf("tcpdump -r %s: %d packets, want %d:\n%s", file, len(lines), n, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, ".9999: UDP") {
			t.Errorf("packet not selected by the filter: %s", l)
		}
	}
}

func TestEndToEndCloud(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pair := netns.NewVethPair(t)
	q := startCloudSQS(t, pair.NS, pair.PeerAddr.String(), "s3-requests", "s3-results", "cs-requests", "cs-results")
	store := startCloudS3(t, "captures", "elsewhere", "allowed")
	cs := sinktest.NewCloudshark("cloudsharktoken")
	csSrv := cs.Start(t, false)
	redisSrv := testenv.StartRedis(t)
	host := hostname(t)
	csPort := csSrv.Listener.Addr().(*net.TCPAddr).Port

	// Daemon one: SQS and Redis in, S3 out, results on both.
	s3Sink := fmt.Sprintf(`[s3]
upload = true
endpoint = %q
pathstyle = true
bucket = "captures"
folder = "pcaps"
region = "us-east-1"
accessid = %q
accesskey = %q
allowbuckets = ["allowed"]
allowacls = ["public-read"]
`, store.Endpoint, store.Access, store.Secret)
	httpPort := testenv.FreePort(t)
	d1 := startDaemon(t, "-config", cloudConfig(t, q, "s3-requests", "s3-results", redisSrv.Port, httpPort, s3Sink))
	// Daemon two: SQS in, Cloudshark out, results on its SQS queue.
	csSink := fmt.Sprintf("[cloudshark]\nupload = true\nscheme = \"http\"\nhost = \"127.0.0.1\"\nport = %d\ntoken = \"cloudsharktoken\"\ntimeout = 10\n", csPort)
	d2 := startDaemon(t, "-config", cloudConfig(t, q, "cs-requests", "cs-results", 0, 0, csSink))
	results := subscribeCloudResults(t, redisSrv.Addr, "cloud.results")
	if !testenv.WaitFor(15*time.Second, func() bool {
		out, err := redisSrv.CLI("PUBSUB", "NUMSUB", "cloud")
		return err == nil && strings.HasSuffix(out, "1")
	}) {
		t.Fatalf("daemon one never subscribed\n%s", d1.Logs())
	}

	frames := [][]byte{udpFrame(pair, 9999, []byte("cloud")), udpFrame(pair, 53, []byte("noise"))}
	seq := 0
	message := func(extra string) (string, string) {
		seq++
		id := fmt.Sprintf("cloud-%d-%d", os.Getpid(), seq)
		return id, fmt.Sprintf(`{"id":%q,"node":%q,"interface":[%q],"bpf":"udp and dst port 9999","packets":4,`+
			`"timeout":10,"duration":20,"customer":"acme","alertid":4242,"tags":"e2e,cloud"%s}`, id, host, pair.Host, extra)
	}
	wantTags := func(id string) string {
		return "customer:acme,alertid:4242,e2e,cloud,node:" + host + ",interface:" + pair.Host + ",snaplength:500"
	}

	t.Run("sqs to s3", func(t *testing.T) {
		id, msg := message("")
		q.send(t, "s3-requests", msg)
		res := cloudCapture(t, pair, results, id, frames)
		if res.Status != agent.StatusOK || res.Packets != 4 || res.StopReason != agent.StopPackets || len(res.Locations) != 1 {
			t.Fatalf("result %+v, want ok, 4 packets, one location\n%s", res, d1.Logs())
		}
		key, ok := strings.CutPrefix(res.Locations[0], "s3://captures/")
		if !ok || !strings.HasPrefix(key, "pcaps/"+host+"-"+pair.Host+"-") || !strings.HasSuffix(key, "-"+id+".pcap") {
			t.Fatalf("location %q, want s3://captures/pcaps/<host>-<iface>-<unix>-<id>.pcap", res.Locations[0])
		}
		file, meta := store.Download(t, "captures", key)
		checkCloudFile(t, file, 4)
		want := map[string]string{"requestid": id, "customer": "acme", "alertid": "4242", "node": host,
			"interface": pair.Host, "snaplength": "500", "filter": "udp and dst port 9999", "tags": wantTags(id)}
		for k, v := range want {
			if meta[k] != v {
				t.Errorf("metadata %s = %q, want %q (all: %v)", k, meta[k], v, meta)
			}
		}
		// The same result is on the SQS result queue.
		var onQueue []agent.Result
		testenv.WaitFor(5*time.Second, func() bool {
			for _, b := range q.drain(t, "s3-results") {
				var r agent.Result
				if json.Unmarshal([]byte(b), &r) == nil && r.ID == id {
					onQueue = append(onQueue, r)
				}
			}
			return len(onQueue) > 0
		})
		if len(onQueue) != 1 || len(onQueue[0].Locations) != 1 || onQueue[0].Locations[0] != res.Locations[0] {
			t.Errorf("SQS result queue: %+v, want one result naming %s", onQueue, res.Locations[0])
		}
	})

	t.Run("same message twice", func(t *testing.T) {
		id, msg := message("")
		before := len(store.Keys(t, "captures"))
		q.send(t, "s3-requests", msg)
		q.send(t, "s3-requests", msg) // SQS delivers at least once
		res := cloudCapture(t, pair, results, id, frames)
		if res.Status != agent.StatusOK {
			t.Fatalf("result %+v", res)
		}
		// Both copies were taken off the queue: one captured, one dropped
		// as a duplicate.
		if !testenv.WaitFor(10*time.Second, func() bool { return q.pending(t, "s3-requests") == 0 }) {
			t.Fatalf("request queue still holds %d messages\n%s", q.pending(t, "s3-requests"), d1.Logs())
		}
		if !strings.Contains(d1.Logs(), "taken recently") {
			t.Errorf("the daemon did not log the second copy as a duplicate\n%s", d1.Logs())
		}
		time.Sleep(500 * time.Millisecond) // a second result would be out by now
		if got := results.byID(id); len(got) != 1 {
			t.Errorf("%d results for %s, want 1: %+v", len(got), id, got)
		}
		var objs []string
		for _, k := range store.Keys(t, "captures") {
			if strings.Contains(k, id) {
				objs = append(objs, k)
			}
		}
		if len(objs) != 1 || len(store.Keys(t, "captures")) != before+1 {
			t.Errorf("objects for %s: %v (bucket went from %d to %d), want exactly one", id, objs, before, len(store.Keys(t, "captures")))
		}
		q.drain(t, "s3-results")
	})

	t.Run("override outside the allow-list", func(t *testing.T) {
		before := store.Keys(t, "captures")
		id, msg := message(`,"bucket":"elsewhere"`)
		q.send(t, "s3-requests", msg)
		res := cloudCapture(t, pair, results, id, frames)
		if res.Status != agent.StatusRejected || len(res.Locations) != 0 || !strings.Contains(res.Error, "elsewhere") {
			t.Errorf("result %+v, want rejected at admission naming the bucket, no location", res)
		}
		if got := store.Keys(t, "elsewhere"); len(got) != 0 {
			t.Errorf("refused bucket holds %v", got)
		}
		if got := store.Keys(t, "captures"); !slices.Equal(got, before) {
			t.Errorf("configured bucket changed: %v, was %v", got, before)
		}
		// Logged once (by the agent), not again by the SQS transport,
		// which logs before it deletes the message.
		if !testenv.WaitFor(10*time.Second, func() bool { return q.pending(t, "s3-requests") == 0 }) {
			t.Fatalf("request queue still holds %d messages", q.pending(t, "s3-requests"))
		}
		if lines := logLines(d1, id); len(lines) != 1 || !strings.Contains(lines[0], "source=sqs") {
			t.Errorf("%d log lines name the rejected request %s, want one naming its source:\n%s", len(lines), id, strings.Join(lines, "\n"))
		}

		// An ACL or a folder outside the allow-lists is rejected the same
		// way, the error naming the key to add it to.
		for _, tc := range []struct{ extra, value, key string }{
			{`,"acl":"public-read-write"`, `"public-read-write"`, "[s3] allowacls"},
			{`,"folder":"elsewhere"`, `"elsewhere"`, "[s3] allowfolders"},
			{`,"folder":"pcaps/../elsewhere"`, `"pcaps/../elsewhere"`, "segment"},
		} {
			id, msg := message(tc.extra)
			q.send(t, "s3-requests", msg)
			res := cloudCapture(t, pair, results, id, frames)
			if res.Status != agent.StatusRejected || len(res.Locations) != 0 ||
				!strings.Contains(res.Error, tc.value) || !strings.Contains(res.Error, tc.key) {
				t.Errorf("%s: result %+v, want rejected at admission naming %s and %s", tc.extra, res, tc.value, tc.key)
			}
		}
		if got := store.Keys(t, "captures"); !slices.Equal(got, before) {
			t.Errorf("configured bucket changed: %v, was %v", got, before)
		}

		// An ACL in allowacls, into a sub-prefix of the configured folder.
		id, msg = message(`,"acl":"public-read","folder":"pcaps/team-a"`)
		q.send(t, "s3-requests", msg)
		res = cloudCapture(t, pair, results, id, frames)
		if res.Status != agent.StatusOK || len(res.Locations) != 1 || !strings.HasPrefix(res.Locations[0], "s3://captures/pcaps/team-a/"+host+"-") {
			t.Fatalf("result %+v, want ok in s3://captures/pcaps/team-a/", res)
		}
		file, _ := store.Download(t, "captures", strings.TrimPrefix(res.Locations[0], "s3://captures/"))
		checkCloudFile(t, file, 4)

		// A bucket on the allow-list is taken.
		id, msg = message(`,"bucket":"allowed"`)
		q.send(t, "s3-requests", msg)
		res = cloudCapture(t, pair, results, id, frames)
		if res.Status != agent.StatusOK || len(res.Locations) != 1 || !strings.HasPrefix(res.Locations[0], "s3://allowed/pcaps/") {
			t.Fatalf("result %+v, want ok in s3://allowed/", res)
		}
		file, _ = store.Download(t, "allowed", strings.TrimPrefix(res.Locations[0], "s3://allowed/"))
		checkCloudFile(t, file, 4)
		q.drain(t, "s3-results")
	})

	t.Run("request -wait over sqs to cloudshark", func(t *testing.T) {
		code, stdout, stderr := runCloudRequest(t, pair, frames,
			"-sqsurl", q.url("cs-requests"), "-sqsresultsurl", q.url("cs-results"), "-sqsendpoint", q.Endpoint, "-sqsprotocol", "query",
			"-wait", "-waittime", "40s", "-node", "any", "-interface", pair.Host, "-bpf", "udp and dst port 9999",
			"-packets", "3", "-timeout", "10", "-duration", "20", "-customer", "acme", "-alertid", "4242", "-tags", "e2e,cloud")
		t.Logf("request: exit %d\nstderr:\n%s", code, stderr)
		if code != 0 {
			t.Fatalf("exit status %d\nstdout:\n%s\ndaemon two:\n%s", code, stdout, d2.Logs())
		}
		rs := reqParseResults(t, stdout)
		if len(rs) != 1 || rs[0].Status != agent.StatusOK || rs[0].Packets != 3 || len(rs[0].Locations) != 1 {
			t.Fatalf("results %+v, want one ok with 3 packets and a location", rs)
		}
		prefix := fmt.Sprintf("http://127.0.0.1:%d/captures/", csPort)
		csID, ok := strings.CutPrefix(rs[0].Locations[0], prefix)
		if !ok {
			t.Fatalf("location %q, want %s<id>", rs[0].Locations[0], prefix)
		}
		up, ok := cs.Upload(csID)
		if !ok {
			t.Fatalf("cloudshark has no capture %s", csID)
		}
		if want := wantTags(rs[0].ID); up.Tags != want {
			t.Errorf("additional_tags %q, want %q", up.Tags, want)
		}
		if !strings.HasPrefix(up.Filename, host+"-"+pair.Host+"-") || !strings.HasSuffix(up.Filename, "-"+rs[0].ID+".pcap") {
			t.Errorf("filename %q", up.Filename)
		}
		file := filepath.Join(t.TempDir(), "cloudshark.pcap")
		if err := os.WriteFile(file, up.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		checkCloudFile(t, file, 3)
		if n := cs.Uploads(); n != 1 {
			t.Errorf("cloudshark holds %d captures, want 1", n)
		}
	})

	t.Run("request -wait over redis to s3", func(t *testing.T) {
		code, stdout, stderr := runCloudRequest(t, pair, frames,
			"-redis", redisSrv.Addr, "-redischannel", "cloud", "-http", fmt.Sprintf("http://127.0.0.1:%d", httpPort),
			"-wait", "-node", host, "-interface", pair.Host, "-bpf", "udp and dst port 9999",
			"-packets", "2", "-timeout", "10", "-duration", "20")
		t.Logf("request: exit %d\nstderr:\n%s", code, stderr)
		if code != 0 {
			t.Fatalf("exit status %d\nstdout:\n%s", code, stdout)
		}
		rs := reqParseResults(t, stdout)
		if len(rs) != 1 || rs[0].Status != agent.StatusOK || len(rs[0].Locations) != 1 || !strings.HasPrefix(rs[0].Locations[0], "s3://captures/pcaps/") {
			t.Fatalf("results %+v, want one ok in s3://captures/pcaps/", rs)
		}
		file, _ := store.Download(t, "captures", strings.TrimPrefix(rs[0].Locations[0], "s3://captures/"))
		checkCloudFile(t, file, 2)
	})
}
