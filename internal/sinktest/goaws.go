package sinktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// GoawsPkg is the Go package the goaws binary is built from; its binary is
// named "cmd" (scripts/testservers.sh also links it as "goaws").
const GoawsPkg = "github.com/Admiral-Piett/goaws/app/cmd"

// GoawsAccount is the account id in the queue URLs goaws hands out.
const GoawsAccount = "100010001000"

// goawsPort is the port goaws listens on inside its namespace.
const goawsPort = 4100

// Goaws is a goaws SQS server running inside a network namespace the test
// made: goaws binds 0.0.0.0 and cannot be told to bind loopback.
type Goaws struct {
	Endpoint string // http://ADDR:4100
	Process  *testenv.Process
	bin, ns  string
	cfgPath  string
	addr     string
}

// StartGoaws starts goaws inside the network namespace ns, listening on
// addr (an address of that namespace) port 4100, with the default
// visibility timeout vis (seconds), and stops it at cleanup. goaws keeps
// queues in memory: make them with CreateQueue.
func StartGoaws(t testing.TB, ns, addr string, vis int) *Goaws {
	t.Helper()
	return startGoaws(t, ns, addr, vis, nil)
}

// startGoaws is StartGoaws with SNS topics (goaws_sns.go).
func startGoaws(t testing.TB, ns, addr string, vis int, topics []GoawsTopic) *Goaws {
	t.Helper()
	bin := testenv.FindBinary(t, GoawsPkg, "goaws", "cmd")
	g := &Goaws{bin: bin, ns: ns, addr: net.JoinHostPort(addr, strconv.Itoa(goawsPort))}
	g.Endpoint = "http://" + g.addr
	// No Region: goaws would put it in front of the host in queue URLs.
	cfg := fmt.Sprintf(`Local:
  Host: %s
  Port: %d
  AccountId: "%s"
  LogToFile: false
  QueueAttributeDefaults:
    VisibilityTimeout: %d
    ReceiveMessageWaitTimeSeconds: 0
  Queues: []
%s`, addr, goawsPort, GoawsAccount, vis, topicsYAML(topics))
	g.cfgPath = filepath.Join(t.TempDir(), "goaws.yaml")
	if err := os.WriteFile(g.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.Restart(t)
	return g
}

// Restart starts a stopped server again on the same address (with no
// queues: goaws keeps them in memory).
func (g *Goaws) Restart(t testing.TB) {
	t.Helper()
	// ip netns exec execs goaws: the PID killed at cleanup is goaws's own.
	g.Process = testenv.StartProcess(t, exec.Command("ip", "netns", "exec", g.ns, g.bin, "-config", g.cfgPath), g.addr)
}

// Stop kills the server; Restart starts it again.
func (g *Goaws) Stop() {
	if g.Process != nil {
		g.Process.Stop()
	}
}

// Client is a plain SQS client for the test's own calls (query protocol,
// no retries).
func (g *Goaws) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(g.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
		Retryer:      aws.NopRetryer{},
	}, func(o *sqs.Options) { o.Protocol = awsquery.New(schemas.AmazonSQS) })
}

// QueueURL returns the URL of the queue called name.
func (g *Goaws) QueueURL(name string) string {
	return g.Endpoint + "/" + GoawsAccount + "/" + name
}

// CreateQueue makes a queue with the given attributes (nil: the server's
// defaults) and returns its URL.
func (g *Goaws) CreateQueue(t testing.TB, name string, attrs map[string]string) string {
	t.Helper()
	_, err := g.Client().CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v\n%s", name, err, g.Process.Out)
	}
	return g.QueueURL(name)
}

// Send puts a message with body on the queue at url.
func (g *Goaws) Send(t testing.TB, url, body string) {
	t.Helper()
	if _, err := g.Client().SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("send to %s: %v", url, err)
	}
}

// Pending returns how many messages the queue at url holds, visible or in
// flight (received and not yet deleted).
func (g *Goaws) Pending(t testing.TB, url string) int {
	t.Helper()
	out, err := g.Client().GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("attributes of %s: %v", url, err)
	}
	n := 0
	for _, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		v, _ := strconv.Atoi(out.Attributes[k])
		n += v
	}
	return n
}
