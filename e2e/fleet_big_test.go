package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// fleetSize is the number of daemons of TestFleetTwoDozen.
const fleetSize = 24

// TestFleetTwoDozen runs two dozen real daemon processes on one
// redis-server, all capturing on one veth pair: every one is present; a
// "request -wait" for a third of them waits for those eight and ends as
// soon as their results are in; a cancel reaches all of them. It measures
// the time from the cancel message to the results, and what the presence
// records cost an idle fleet.
func TestFleetTwoDozen(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "tcpdump")
	pair := netns.NewVethPair(t)
	srv := testenv.StartRedis(t)
	var names []string
	for i := range fleetSize {
		names = append(names, fmt.Sprintf("fleet-%02d", i))
	}
	start := time.Now()
	fleet := startFleet(t, srv.Port, "fleet24", pair.Host, names...)
	waitSubscribed(t, srv, "fleet24", fleetSize, 60*time.Second)
	r := waitNodesListed(t, srv.Addr, "fleet24", fleetSize)
	t.Logf("%d daemons started and present in %v", fleetSize, time.Since(start).Round(time.Millisecond))
	redisArgs := []string{"-redis", srv.Addr, "-redischannel", "fleet24", "-hmackey", fleetKey}
	frames := [][]byte{udpFrame(pair, 9999, []byte("fleet")), udpFrame(pair, 53, []byte("noise"))}
	results := subscribeResults(t, srv.Addr, "fleet24.results")
	if !strings.Contains(r.stdout, "fleet-23") {
		t.Fatalf("nodes:\n%s", r.stdout)
	}

	t.Run("presence cost", func(t *testing.T) {
		// The fleet is idle: what Redis sees is the presence refreshes
		// (and the clients' keepalives).
		before := redisStats(t, srv)
		cpu0 := map[int]time.Duration{}
		for _, d := range fleet {
			cpu0[d.cmd.Process.Pid] = procCPU(t, d.cmd.Process.Pid)
		}
		const window = 30 * time.Second
		time.Sleep(window) // the measurement's window, not a synchronisation
		after := redisStats(t, srv)
		var cpu time.Duration
		for _, d := range fleet {
			cpu += procCPU(t, d.cmd.Process.Pid) - cpu0[d.cmd.Process.Pid]
		}
		per := func(k string) float64 { return float64(after[k]-before[k]) / window.Seconds() / fleetSize }
		t.Logf("presence, idle fleet of %d over %v, per agent: %.3f PEXPIRE/s, %.3f SET/s, %.3f commands/s in all, %.1f bytes/s in to Redis, %.1f bytes/s out; CPU %.3f%% of one core",
			fleetSize, window, per("cmdstat_pexpire"), per("cmdstat_set"), per("total_commands_processed"),
			per("total_net_input_bytes"), per("total_net_output_bytes"), 100*cpu.Seconds()/window.Seconds()/fleetSize)
		if got := per("cmdstat_pexpire") + per("cmdstat_set"); got < 0.05 || got > 0.2 {
			t.Errorf("%.3f presence commands/s per agent, want one every 10s", got)
		}
	})

	t.Run("wait for a third", func(t *testing.T) {
		var want []string
		for _, n := range names[:fleetSize/3] {
			want = append(want, n+" ("+pair.Host+")")
		}
		r := reqSendDuring(t, pair, frames, func() cliRun {
			return runCLI(t, append([]string{"request"}, append(redisArgs, "-wait", "-nodere", `^fleet-(0[0-7])$`, "-alias", "main",
				"-bpf", "udp and dst port 9999", "-packets", "2", "-timeout", "20", "-duration", "30")...)...)
		})
		t.Logf("request -wait for %d of %d: exit %d after %v", fleetSize/3, fleetSize, r.code, r.took.Round(time.Millisecond))
		rs := reqParseResults(t, r.stdout)
		if r.code != 0 || len(rs) != fleetSize/3 {
			t.Fatalf("exit %d, %d results, want 0 and %d\nstderr:\n%s", r.code, len(rs), fleetSize/3, r.stderr)
		}
		for _, res := range rs {
			if !regexp.MustCompile(`^fleet-0[0-7]$`).MatchString(res.Node) || res.Status != agent.StatusOK || res.Packets != 2 {
				t.Errorf("result %+v", res)
			}
		}
		if s := fmt.Sprintf("8 of 24 agent(s) present take it, 8 result(s) expected: %s", strings.Join(want, ", ")[:40]); !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not say %q:\n%s", s, r.stderr)
		}
		if r.took > 20*time.Second {
			t.Errorf("took %v", r.took)
		}
	})

	t.Run("cancel reaches all", func(t *testing.T) {
		const id = "fleet24-cancel"
		c := publisher(t, srv.Addr)
		publishSigned(t, c, "fleet24", []byte(`{"id":"`+id+`","node":"any","alias":["main"],"bpf":"udp and dst port 9999","duration":60,"timeout":60}`), fleetSize)
		waitRunning(t, srv.Addr, "fleet24", id, names)
		sendRounds(t, pair, frames, 3)
		t0 := publishSigned(t, c, "fleet24", agent.CancelMessage(id), fleetSize)
		got, at := results.waitIDTimed(t, id, fleetSize, 30*time.Second)
		checkCancelled(t, got)
		t.Logf("cancel message to result, %d agents: %s", fleetSize, latencies(t0, at))
	})
}

// waitNodesListed waits until "pcapdaemon nodes" lists n agents on
// channel, and returns that run.
func waitNodesListed(t *testing.T, addr, channel string, n int) cliRun {
	t.Helper()
	var r cliRun
	ok := testenv.WaitFor(60*time.Second, func() bool {
		r = runCLI(t, "nodes", "-redis", addr, "-channel", channel)
		return r.code == 0 && strings.Count(r.stdout, "\n") == n+1
	})
	if !ok {
		t.Fatalf("nodes: exit %d, want %d agents\n%s%s", r.code, n, r.stdout, r.stderr)
	}
	return r
}

// redisStats returns the server's command counts (cmdstat_<name>: calls)
// and its INFO stats counters.
func redisStats(t *testing.T, r *testenv.Redis) map[string]int64 {
	t.Helper()
	out, err := r.CLI("INFO", "all")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for l := range strings.SplitSeq(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok {
			continue
		}
		if strings.HasPrefix(k, "cmdstat_") {
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			v = calls
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}
