package redis

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startCluster starts a real three-node Redis Cluster (three masters, no
// replicas) and returns its nodes' addresses once every node reports it
// ok.
func startCluster(t *testing.T) []string {
	t.Helper()
	var nodes []*server
	var addrs []string
	for range 3 {
		s := startServer(t, "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 2000")
		nodes = append(nodes, s)
		addrs = append(addrs, s.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/redis-cli", append([]string{"--cluster", "create"}, append(addrs, "--cluster-yes")...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Wait until every node reports the cluster ok.
	for _, s := range nodes {
		for {
			info, _ := exec.CommandContext(ctx, "/usr/bin/redis-cli", "-p", strings.TrimPrefix(s.addr(), "127.0.0.1:"), "cluster", "info").Output()
			if strings.Contains(string(info), "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cluster not ok: %s", info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// TestCluster subscribes through a real three-node Redis Cluster: a
// request published on any node reaches the agent (cluster pub/sub is
// broadcast to every node).
func TestCluster(t *testing.T) {
	addrs := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := make(chanSubmitter, 3)
	tr, err := New(Options{Addrs: addrs[:1], Mode: "cluster", Channel: "capture"}, sub, nil)
	if err != nil {
		t.Fatal(err)
	}
	running(t, tr)
	waitState(t, tr, StateUp)
	for i, a := range addrs {
		msg := "via node " + string(rune('0'+i))
		cl, err := Dial(Options{Addrs: []string{a}, Mode: "single"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Publish(ctx, "capture", []byte(msg)); err != nil {
			t.Fatal(err)
		}
		cl.Close()
		expect(t, sub, msg)
	}
	if err := tr.PublishResult(ctx, resultFor("c1")); err != nil {
		t.Errorf("PublishResult in cluster mode: %v", err)
	}
}
