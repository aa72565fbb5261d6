package sqs

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// goawsPkg is the Go package the goaws binary is built from; its binary is
// named "cmd" (scripts/testservers.sh also links it as "goaws").
const goawsPkg = "github.com/Admiral-Piett/goaws/app/cmd"

const goawsAccount = "100010001000"

// findServer returns a test server's binary built from the Go package pkg
// (checked with debug/buildinfo: a binary called "cmd" could be anything),
// looking for each name in PATH, $GOBIN and $(go env GOPATH)/bin, where
// scripts/testservers.sh installs them. Missing: skip, or fail under
// PCAPDAEMON_REQUIRE_PRIV=1.
func findServer(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, p := range filepath.SplitList(gopath) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	for _, name := range names {
		var cands []string
		if p, err := exec.LookPath(name); err == nil {
			cands = append(cands, p)
		}
		for _, d := range dirs {
			cands = append(cands, filepath.Join(d, name))
		}
		for _, c := range cands {
			if bi, err := buildinfo.ReadFile(c); err == nil && bi.Path == pkg {
				return c
			}
		}
	}
	testenv.Skip(t, names[0]+" ("+pkg+") not found in PATH or GOPATH/bin: run scripts/testservers.sh")
	return ""
}

var nsSeq atomic.Int32

func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// link is a network namespace joined to the host by a veth pair.
type link struct {
	NS       string // namespace name
	HostLink string // the veth end in the host's namespace
	HostAddr string // its address
	NSAddr   string // the address of the end inside NS
}

// netns makes a network namespace joined to the host by a veth pair, with
// a /30 from 198.18.0.0/15 not used by any interface yet; everything is
// deleted at cleanup.
func netns(t testing.TB) link {
	t.Helper()
	testenv.RequireRoot(t)
	pid := os.Getpid()
	seq := nsSeq.Add(1)
	name := fmt.Sprintf("pd-sqs-%d-%d", pid, seq)
	host := fmt.Sprintf("sq%dh%d", pid%1000000, seq)
	peer := fmt.Sprintf("sq%dn%d", pid%1000000, seq)
	out, _ := exec.Command("ip", "-o", "-4", "addr", "show").Output()
	var third, fourth int
	found := false
	for i := 0; i < 256*64 && !found; i++ {
		// 198.19.x.y/30 blocks, starting at a pid-derived block.
		blk := (pid*7 + int(seq)*13 + i) % (256 * 64)
		third, fourth = blk/64, (blk%64)*4
		if !bytes.Contains(out, []byte(fmt.Sprintf(" 198.19.%d.%d/", third, fourth+1))) &&
			!bytes.Contains(out, []byte(fmt.Sprintf(" 198.19.%d.%d/", third, fourth+2))) {
			found = true
		}
	}
	hostAddr := fmt.Sprintf("198.19.%d.%d", third, fourth+1)
	nsAddr := fmt.Sprintf("198.19.%d.%d", third, fourth+2)

	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	run(t, "ip", "link", "set", peer, "netns", name)
	run(t, "ip", "addr", "add", hostAddr+"/30", "dev", host)
	run(t, "ip", "link", "set", host, "up")
	run(t, "ip", "-n", name, "addr", "add", nsAddr+"/30", "dev", peer)
	run(t, "ip", "-n", name, "link", "set", peer, "up")
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return link{NS: name, HostLink: host, HostAddr: hostAddr, NSAddr: nsAddr}
}

// goaws is a goaws SQS server running in its own network namespace
// (it binds 0.0.0.0 and cannot be told to bind loopback).
type goaws struct {
	Endpoint string // http://198.19.x.y:PORT
	Link     link
	cmd      *exec.Cmd
	out      *bytes.Buffer
	bin, ns  string
	cfgPath  string
	addr     string
}

// startGoaws starts goaws in a fresh namespace with the default visibility
// timeout vis (seconds). Queues are made with createQueue.
func startGoaws(t testing.TB, vis int) *goaws {
	t.Helper()
	bin := findServer(t, goawsPkg, "goaws", "cmd")
	l := netns(t)
	addr := l.NSAddr
	const port = 4100
	g := &goaws{bin: bin, ns: l.NS, Link: l, addr: net.JoinHostPort(addr, strconv.Itoa(port))}
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
  Topics: []
`, addr, port, goawsAccount, vis)
	g.cfgPath = filepath.Join(t.TempDir(), "goaws.yaml")
	if err := os.WriteFile(g.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start(t)
	t.Cleanup(g.stop)
	return g
}

func (g *goaws) start(t testing.TB) {
	t.Helper()
	// ip netns exec execs the command: the PID is goaws's own.
	g.cmd = exec.Command("ip", "netns", "exec", g.ns, g.bin, "-config", g.cfgPath)
	g.out = new(bytes.Buffer)
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", g.addr, 300*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			g.stop()
			t.Fatalf("goaws did not listen on %s: %v\n%s", g.addr, err, g.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (g *goaws) stop() {
	if g.cmd == nil || g.cmd.Process == nil || g.cmd.ProcessState != nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGKILL)
	g.cmd.Wait()
}

// client is a plain SQS client for the test's own calls (query protocol).
func (g *goaws) client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(g.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("x", "y", ""),
		Retryer:      aws.NopRetryer{},
	}, func(o *sqs.Options) { o.Protocol = awsquery.New(schemas.AmazonSQS) })
}

func (g *goaws) queueURL(name string) string {
	return g.Endpoint + "/" + goawsAccount + "/" + name
}

// createQueue makes a queue with the given visibility timeout.
func (g *goaws) createQueue(t testing.TB, name string, vis int) string {
	t.Helper()
	_, err := g.client().CreateQueue(context.Background(), &sqs.CreateQueueInput{
		QueueName:  aws.String(name),
		Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(vis)},
	})
	if err != nil {
		t.Fatalf("create queue %s: %v\n%s", name, err, g.out)
	}
	return g.queueURL(name)
}

func (g *goaws) send(t testing.TB, queue, body string) {
	t.Helper()
	if _, err := g.client().SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("send to %s: %v", queue, err)
	}
}

// receiveAll returns the bodies of the messages visible now (and leaves
// them invisible for the queue's visibility timeout).
func (g *goaws) receiveAll(t testing.TB, queue string) []string {
	t.Helper()
	out, err := g.client().ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 0,
	})
	if err != nil {
		t.Fatalf("receive from %s: %v", queue, err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	return bodies
}
