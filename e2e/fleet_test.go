package e2e

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestFleetTwoAgents runs two daemons, nodea and nodeb, on one
// redis-server, capturing on the same veth pair: both are listed by
// "nodes"; "request -wait" for nodea alone waits for nodea's result and
// ends as soon as it is in; "cancel" ends a capture on both, their frames
// delivered; Ctrl-C on "request -wait" cancels and waits for the final
// results, and a second Ctrl-C leaves at once.
func TestFleetTwoAgents(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump")
	pair := netns.NewVethPair(t)
	srv := testenv.StartRedis(t)
	fleet := startFleet(t, srv.Port, "fleet", pair.Host, "nodea", "nodeb")
	waitSubscribed(t, srv, "fleet", 2, 15*time.Second)
	redisArgs := []string{"-redis", srv.Addr, "-redischannel", "fleet", "-hmackey", fleetKey}
	frames := [][]byte{udpFrame(pair, 9999, []byte("fleet")), udpFrame(pair, 53, []byte("noise"))}
	results := subscribeResults(t, srv.Addr, "fleet.results")

	t.Run("nodes", func(t *testing.T) {
		var r cliRun
		ok := testenv.WaitFor(15*time.Second, func() bool {
			r = runCLI(t, "nodes", "-redis", srv.Addr, "-channel", "fleet")
			return r.code == 0 && strings.Count(r.stdout, "\n") == 3
		})
		if !ok {
			t.Fatalf("nodes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("pcapdaemon nodes:\n%s", r.stdout)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		for i, name := range []string{"nodea", "nodeb"} {
			if f := strings.Fields(lines[i+1]); f[0] != name || !strings.Contains(lines[i+1], pair.Host+"(main)") {
				t.Errorf("row %q: want %s with %s(main)", lines[i+1], name, pair.Host)
			}
		}
		r = runCLI(t, "nodes", "-redis", srv.Addr, "-channel", "fleet", "-json")
		var recs []agent.NodeInfo
		if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 2 || recs[0].Version == "" || recs[0].MaxDuration != 60 {
			t.Errorf("nodes -json: %v\n%s", err, r.stdout)
		}
	})

	t.Run("wait for the agent targeted only", func(t *testing.T) {
		r := reqSendDuring(t, pair, frames, func() cliRun {
			return runCLI(t, append([]string{"request"}, append(redisArgs, "-wait", "-nodere", "^nodea$", "-alias", "main",
				"-bpf", "udp and dst port 9999", "-packets", "3", "-timeout", "20", "-duration", "30")...)...)
		})
		t.Logf("request -wait -nodere '^nodea$': exit %d after %v\n%s", r.code, r.took.Round(time.Millisecond), r.stderr)
		rs := reqParseResults(t, r.stdout)
		if r.code != 0 || len(rs) != 1 || rs[0].Node != "nodea" || rs[0].Status != agent.StatusOK || rs[0].Packets != 3 {
			t.Fatalf("exit %d, results %+v\nstderr:\n%s", r.code, rs, r.stderr)
		}
		if !strings.Contains(r.stderr, "1 of 2 agent(s) present take it, 1 result(s) expected: nodea ("+pair.Host+")") {
			t.Errorf("stderr does not say whom it waits for:\n%s", r.stderr)
		}
		// Three frames are there within a second: the command ends with
		// nodea's result, not at its deadline (the 15s, or 1h).
		if r.took > 10*time.Second {
			t.Errorf("took %v", r.took)
		}
	})

	t.Run("cancel through redis", func(t *testing.T) {
		const id = "fleet-cancel-1"
		r := runCLI(t, append([]string{"request"}, append(redisArgs, "-id", id, "-node", "any", "-alias", "main",
			"-bpf", "udp and dst port 9999", "-duration", "60", "-timeout", "60")...)...)
		if r.code != 0 {
			t.Fatalf("request: exit %d: %s", r.code, r.stderr)
		}
		for _, d := range fleet {
			waitArmed(t, d.api, id)
		}
		sendRounds(t, pair, frames, 3)
		r = runCLI(t, append([]string{"cancel"}, append(redisArgs, id)...)...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != id || !strings.Contains(r.stderr, "to 2 subscriber(s)") {
			t.Fatalf("cancel: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		got := results.waitID(t, id, 2, 15*time.Second)
		checkCancelled(t, got)
		if r := runCLI(t, append([]string{"cancel"}, append(redisArgs, "no/such")...)...); r.code != 2 {
			t.Errorf("cancel of a bad id: exit %d, want 2", r.code)
		}
	})

	t.Run("cancel latency", func(t *testing.T) {
		// From the cancel message's publication to its results on the
		// results channel.
		c := publisher(t, srv.Addr)
		const id = "fleet-cancel-2"
		publishSigned(t, c, "fleet", []byte(`{"id":"`+id+`","node":"any","interface":["`+pair.Host+`"],"duration":60,"timeout":60}`), 2)
		for _, d := range fleet {
			waitArmed(t, d.api, id)
		}
		// Unsigned, the cancel is refused like a request: the captures run on.
		publish(t, c, "fleet", agent.CancelMessage(id), 2)
		for _, d := range fleet {
			waitLog(t, d.daemon, "redis request rejected (unsigned)", 10*time.Second)
			if s, _ := lookup(t, d.api, id); s.State != "running" {
				t.Errorf("%s: request %s is %s after an unsigned cancel, want running", d.name, id, s.State)
			}
		}
		t0 := publishSigned(t, c, "fleet", agent.CancelMessage(id), 2)
		got, at := results.waitIDTimed(t, id, 2, 15*time.Second)
		for _, res := range got {
			if res.StopReason != agent.StopCancelled {
				t.Errorf("result %+v, want stopped by cancel", res)
			}
		}
		t.Logf("cancel message to result, two agents: %s", latencies(t0, at))
	})

	t.Run("ctrl-c cancels and waits", func(t *testing.T) {
		const id = "fleet-int-1"
		b := startCLI(t, append([]string{"request"}, append(redisArgs, "-wait", "-id", id, "-node", "any", "-alias", "main",
			"-bpf", "udp and dst port 9999", "-duration", "60", "-timeout", "60")...)...)
		for _, d := range fleet {
			waitArmed(t, d.api, id)
		}
		sendRounds(t, pair, frames, 3)
		start := time.Now()
		b.interrupt(t)
		code := b.wait(20 * time.Second)
		t.Logf("after Ctrl-C: exit %d in %v\n%s", code, time.Since(start).Round(time.Millisecond), b.errOut.String())
		rs := reqParseResults(t, b.out.String())
		if code != 0 || len(rs) != 2 {
			t.Fatalf("exit %d, %d results, want 0 and 2\nstdout:\n%s\nstderr:\n%s", code, len(rs), b.out.String(), b.errOut.String())
		}
		checkCancelled(t, rs)
		for _, want := range []string{"cancelling " + id, "2 result(s) (2 ok); cancelled"} {
			if !strings.Contains(b.errOut.String(), want) {
				t.Errorf("stderr does not say %q", want)
			}
		}
	})

	t.Run("second ctrl-c leaves at once", func(t *testing.T) {
		const id = "fleet-int-2"
		b := startCLI(t, append([]string{"request"}, append(redisArgs, "-wait", "-id", id, "-node", "any", "-alias", "main",
			"-duration", "60", "-timeout", "60")...)...)
		for _, d := range fleet {
			waitArmed(t, d.api, id)
		}
		// nodeb stops answering (its process stopped, its presence record
		// still there): its final result cannot come.
		nodeb := fleet[1].cmd.Process
		if err := nodeb.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nodeb.Signal(syscall.SIGCONT) })
		b.interrupt(t)
		if !testenv.WaitFor(15*time.Second, func() bool { return strings.Contains(b.out.String(), `"node":"nodea"`) }) {
			t.Fatalf("nodea's result after the first Ctrl-C did not come\nstderr:\n%s", b.errOut.String())
		}
		if code := b.wait(500 * time.Millisecond); code != -1 {
			t.Fatalf("exit %d before the second Ctrl-C, with nodeb's result missing\n%s", code, b.errOut.String())
		}
		start := time.Now()
		b.interrupt(t)
		code := b.wait(5 * time.Second)
		if code != 1 || !strings.Contains(b.errOut.String(), "1 result(s) (1 empty); cancelled; interrupted") {
			t.Errorf("after the second Ctrl-C: exit %d, want 1\n%s", code, b.errOut.String())
		}
		t.Logf("second Ctrl-C: left in %v", time.Since(start).Round(time.Millisecond))
		_ = nodeb.Signal(syscall.SIGCONT)
	})
}

// sendRounds sends the frames n times, 100ms apart: the frames of all but
// the last round are in the capture, not only in the kernel's ring, by
// the time the test goes on (a ring block is handed over within 10ms).
// The capture loop does not drain a block the kernel has not handed over
// when it is cancelled: frames sent within those 10ms may be left out.
func sendRounds(t *testing.T, p *netns.Pair, frames [][]byte, n int) {
	t.Helper()
	for i := range n {
		if i > 0 {
			time.Sleep(100 * time.Millisecond) // pacing the traffic
		}
		send(t, p, frames)
	}
}

// checkCancelled checks results of a cancelled capture with traffic: each
// stopped by the cancel, with the frames of the rounds before it delivered
// in its file.
func checkCancelled(t *testing.T, rs []agent.Result) {
	t.Helper()
	for _, res := range rs {
		if res.StopReason != agent.StopCancelled || res.Status != agent.StatusOK || res.Packets < 2 || len(res.Locations) != 1 {
			t.Errorf("result %+v, want packets delivered, stopped by cancel", res)
			continue
		}
		if n := len(tcpdumpRead(t, res.Locations[0])); n != int(res.Packets) {
			t.Errorf("%s: %d packets in %s, the result says %d", res.Node, n, res.Locations[0], res.Packets)
		}
	}
}
