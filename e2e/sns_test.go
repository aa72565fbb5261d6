package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestSNSFleet runs three daemons, each polling its own SQS queue, behind
// one SNS topic that the three queues subscribe to (goaws, in the veth
// pair's namespace: it binds 0.0.0.0), two of them with SNS's envelope and
// one raw, as the README's fleet on SQS: "request -snstopic -wait"
// reaches every agent and collects their results from the results queue;
// "cancel -snstopic" ends a capture on all three. Requests and cancels are
// signed: the agents check the signature of the message inside SNS's
// envelope.
func TestSNSFleet(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump")
	testenv.FindBinary(t, sinktest.GoawsPkg, "goaws", "cmd")
	pair := netns.NewVethPair(t)
	queues := []string{"sns-agent-1", "sns-agent-2", "sns-agent-3"}
	g := sinktest.StartGoawsTopics(t, pair.NS.Name, pair.PeerAddr.String(), 30,
		sinktest.GoawsTopic{Name: "fleet", Queues: queues, Raw: []bool{false, true, false}})
	q := &cloudSQS{g}
	q.CreateQueue(t, "sns-results", nil)
	var apis []string
	for i, queue := range queues {
		port := testenv.FreePort(t)
		apis = append(apis, apiURL(port))
		d := startDaemon(t, "-config", snsConfig(t, fmt.Sprintf("sns-%d", i+1), q, queue, port, pair.Host))
		waitHTTP(t, d, apiURL(port))
	}
	frames := [][]byte{udpFrame(pair, 9999, []byte("sns")), udpFrame(pair, 53, []byte("noise"))}
	transportArgs := []string{"-snstopic", sinktest.GoawsTopicARN("fleet"), "-sqsendpoint", q.Endpoint, "-sqsresultsurl", q.url("sns-results"),
		"-sqsprotocol", "query", "-hmackey", fleetKey}

	t.Run("request -wait through the topic", func(t *testing.T) {
		code, stdout, stderr := runCloudRequest(t, pair, frames, append(transportArgs, "-wait", "-count", "3", "-node", "any", "-alias", "main",
			"-bpf", "udp and dst port 9999", "-packets", "2", "-timeout", "20", "-duration", "30")...)
		t.Logf("request -snstopic -wait: exit %d\n%s", code, stderr)
		rs := reqParseResults(t, stdout)
		var nodes []string
		for _, r := range rs {
			nodes = append(nodes, r.Node)
			if r.Status != agent.StatusOK || r.Packets != 2 || len(r.Locations) != 1 {
				t.Errorf("result %+v", r)
			}
		}
		slices.Sort(nodes)
		if code != 0 || !slices.Equal(nodes, []string{"sns-1", "sns-2", "sns-3"}) {
			t.Fatalf("exit %d, results from %v, want 0 and one from each agent", code, nodes)
		}
		if !strings.Contains(stderr, "cannot be known; waiting for 3 result(s) (-count)") {
			t.Errorf("stderr does not say that SNS keeps no presence:\n%s", stderr)
		}
	})

	t.Run("cancel through the topic", func(t *testing.T) {
		const id = "sns-cancel-1"
		code, _, stderr := runCloudRequest(t, pair, nil, append(transportArgs, "-id", id, "-node", "any", "-alias", "main",
			"-bpf", "udp and dst port 9999", "-duration", "60", "-timeout", "60")...)
		if code != 0 {
			t.Fatalf("request: exit %d\n%s", code, stderr)
		}
		for _, api := range apis {
			waitArmed(t, api, id)
		}
		sendRounds(t, pair, frames, 3)
		r := runCLIEnv(t, cloudEnv(t), append([]string{"cancel"}, append(transportArgs, id)...)...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != id || !strings.Contains(r.stderr, "published on SNS topic") {
			t.Fatalf("cancel: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		var got []agent.Result
		ok := testenv.WaitFor(30*time.Second, func() bool {
			for _, body := range q.drain(t, "sns-results") {
				var r agent.Result
				if json.Unmarshal([]byte(body), &r) == nil && r.ID == id {
					got = append(got, r)
				}
			}
			return len(got) >= len(queues)
		})
		if !ok {
			t.Fatalf("%d results for %s on the results queue, want %d", len(got), id, len(queues))
		}
		checkCancelled(t, got)
	})
}

// snsConfig is one SNS fleet daemon's configuration: its own queue,
// the shared results queue, signed requests, the HTTP API on port.
func snsConfig(t *testing.T, name string, q *cloudSQS, queue string, port int, iface string) string {
	t.Helper()
	body := fmt.Sprintf(`[general]
hostname = %q
writelocal = true
localdir = %q
snaplength = 1500
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

[redis]
listen = false

[http]
listen = "127.0.0.1:%d"

[security]
hmackey = %q

[[interface]]
name = %q
alias = ["main"]
`, name, t.TempDir(), q.url(queue), q.url("sns-results"), q.Endpoint, port, fleetKey, iface)
	path := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
