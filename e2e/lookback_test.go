package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// numbered sends frames numbered from 0 (the number in the first four
// bytes of the UDP payload, destination port 9) out of the pair's peer
// into its host end, batch every millisecond, until stopped or after
// max frames; it returns how to stop it.
func numbered(t *testing.T, p *netns.Pair, batch, max int) (stop func() int) {
	t.Helper()
	var quit atomic.Bool
	sent := make(chan int, 1)
	go func() {
		n := 0
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for n < max && !quit.Load() {
			<-tick.C
			fs := make([][]byte, batch)
			for i := range fs {
				payload := make([]byte, 32)
				binary.BigEndian.PutUint32(payload, uint32(n+i))
				fs[i] = udpFrame(p, 9, payload)
			}
			if err := p.Send(fs); err != nil {
				t.Errorf("send: %v", err)
				break
			}
			n += batch
		}
		sent <- n
	}()
	return func() int { quit.Store(true); return <-sent }
}

// numbers reads the numbered frames of a pcap file, checking that they
// are in time order.
func numbers(t *testing.T, file string) []uint32 {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint32
	var last time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(last) {
			t.Errorf("frame %d is older than the one before it", len(out))
		}
		last = ci.Timestamp
		out = append(out, binary.BigEndian.Uint32(data[14+28:]))
	}
}

// agentInterface reads one interface of GET /v1/agent.
func agentInterface(api, name string) (httpapi.InterfaceInfo, bool) {
	resp, err := http.Get(api + "/v1/agent")
	if err != nil {
		return httpapi.InterfaceInfo{}, false
	}
	defer resp.Body.Close()
	var info httpapi.AgentInfo
	if json.NewDecoder(resp.Body).Decode(&info) != nil {
		return httpapi.InterfaceInfo{}, false
	}
	for _, in := range info.Interfaces {
		if in.Name == name {
			return in, true
		}
	}
	return httpapi.InterfaceInfo{}, false
}

// A look-back request to the real binary over its HTTP API
// (pcapdaemon request -lookback), on a veth pair carrying numbered frames
// before, during and after the request: one file, read back with tcpdump,
// holding an unbroken run of numbers in time order, the first part from
// the look-back ring; the ring's span on GET /v1/agent, /metrics and in
// pcapdaemon interfaces.
func TestEndToEndLookback(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{httpPort: port, localDir: dir,
		extra: fmt.Sprintf("\n[[interface]]\nname = %q\nlookback = 16777216\nlookbacksnap = 256\n", p.Host)})
	d := startDaemon(t, "-config", cfg)
	waitLog(t, d, "look-back ring open", 15*time.Second)

	stop := numbered(t, p, 4, 200_000) // 4,000 frames a second, at most 50 s
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	if !testenv.WaitFor(15*time.Second, func() bool {
		in, ok := agentInterface(api, p.Host)
		return ok && in.Lookback >= 1 && in.LookbackBytes > 0
	}) {
		in, _ := agentInterface(api, p.Host)
		t.Fatalf("GET /v1/agent: %+v, want the ring holding a second or more", in)
	}
	cmd := exec.Command(daemonBinary(t), "request", "-http", api, "-node", "any", "-interface", p.Host,
		"-bpf", "udp and dst port 9", "-lookback", "300", "-duration", "1", "-wait", "-waittime", "30s")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("pcapdaemon request: %v\n%s%s", err, out.String(), errb.String())
	}
	sent := stop()
	stopped = true
	var r agent.Result
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		t.Fatalf("request's output %q: %v", out.String(), err)
	}
	if r.Status != agent.StatusOK || r.StopReason != agent.StopDuration || r.LookbackPackets == nil || r.LookbackFrom == nil ||
		*r.LookbackPackets == 0 || *r.LookbackPackets >= r.Packets || !r.LookbackFrom.Before(r.Started) {
		t.Fatalf("result %+v: want ok, both parts, history from before the request", r)
	}
	file := waitFile(t, dir, map[string]bool{}, 10*time.Second)
	if lines := tcpdumpRead(t, file); uint64(len(lines)) != r.Packets {
		t.Errorf("tcpdump -r reads %d packets, the result says %d", len(lines), r.Packets)
	}
	ns := numbers(t, file)
	for i := 1; i < len(ns); i++ {
		if ns[i] != ns[i-1]+1 {
			t.Fatalf("frame %d is number %d after %d: a gap or a duplicate (look-back part: %d frames)", i, ns[i], ns[i-1], *r.LookbackPackets)
		}
	}
	if ns[0] != 0 || int(ns[len(ns)-1]) >= sent {
		t.Errorf("numbers %d to %d, want from 0 (the ring holds all) and below %d", ns[0], ns[len(ns)-1], sent)
	}

	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"pcapdaemon_lookback_bytes{interface=%q}", "pcapdaemon_lookback_seconds{interface=%q}",
		"pcapdaemon_lookback_ring_bytes{interface=%q}", "pcapdaemon_lookback_open{interface=%q} 1"} {
		if w := fmt.Sprintf(m, p.Host); !strings.Contains(string(metrics), w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	js, err := exec.Command(daemonBinary(t), "interfaces", "-config", cfg, "-json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Name     string `json:"name"`
		Lookback *struct {
			Bytes     int64    `json:"bytes"`
			HeldBytes *int64   `json:"held_bytes"`
			Seconds   *float64 `json:"seconds"`
		} `json:"lookback"`
	}
	if err := json.Unmarshal(js, &list); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, in := range list {
		if in.Name == p.Host {
			found = true
			if lb := in.Lookback; lb == nil || lb.Bytes != 16<<20 || lb.Seconds == nil || *lb.Seconds < 1 || lb.HeldBytes == nil || *lb.HeldBytes == 0 {
				t.Errorf("pcapdaemon interfaces: %s's look-back %+v, want 16 MiB holding a second or more", p.Host, lb)
			}
		}
	}
	if !found {
		t.Errorf("pcapdaemon interfaces does not list %s:\n%s", p.Host, js)
	}
}

// Look-back rings that do not fit maxmemory: the daemon refuses to start
// and pcapdaemon check refuses the configuration, both naming the keys.
func TestEndToEndLookbackRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{httpPort: testenv.FreePort(t), localDir: t.TempDir(),
		general: []string{"maxmemory = 268435456"},
		extra:   "\n[[interface]]\nname = \"lo\"\nlookback = 209715200\n"})
	for _, args := range [][]string{{"-config", cfg}, {"check", "-config", cfg}} {
		cmd := exec.Command(daemonBinary(t), args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("pcapdaemon %v still running:\n%s", args, out.String())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("pcapdaemon %v: %v, want a failure", args, err)
		}
		for _, w := range []string{"general.maxmemory", "interface[0].lookback", "general.ringsize"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("pcapdaemon %v does not name %s:\n%s", args, w, out.String())
			}
		}
	}
}
