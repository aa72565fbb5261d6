package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The end-to-end tests run the real binary with a TOML config against a real
// redis-server, capture on a veth pair whose far end sits in a network
// namespace the test made, and read the files back with tcpdump -r.

// daemon is a running pcapdaemon process started by a test.
type daemon struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

func (d *daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.Write(p)
}

func (d *daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// startDaemon runs the binary with args and stops it (SIGINT, then kill)
// when the test ends.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemonCmd(t, exec.Command(daemonBinary(t), args...), os.Interrupt, 15*time.Second, "daemon log")
}

// startDaemonCmd starts cmd, which runs the daemon, with its output in the
// daemon's log. When the test ends it sends stop, kills the process (by its
// PID) if it has not exited within grace, and logs its output under the
// heading what if the test failed.
func startDaemonCmd(t *testing.T, cmd *exec.Cmd, stop os.Signal, grace time.Duration, what string) *daemon {
	t.Helper()
	d := &daemon{cmd: cmd, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(stop)
		select {
		case <-d.done:
		case <-time.After(grace):
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("%s:\n%s", what, d.Logs())
		}
	})
	return d
}

// udpFrame builds an Ethernet/IPv4/UDP frame from the pair's peer to its
// host end with the given destination port and payload.
func udpFrame(p *netns.Pair, dport uint16, payload []byte) []byte {
	return testenv.UDPFrame(p.HostMAC, p.PeerMAC, p.PeerAddr, p.HostAddr, 40000, dport, payload)
}

// tcpdumpRead runs tcpdump -r on file and returns its packet lines.
func tcpdumpRead(t *testing.T, file string, args ...string) []string {
	t.Helper()
	all := append([]string{"-n", "-r", file}, args...)
	out, err := exec.Command("tcpdump", all...).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", file, err)
	}
	s := strings.TrimSpace(string(out))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// visibleNames lists dir (full paths) without its hidden entries: the
// local sink's temporary files and the daemon's request index
// (.pcapdaemon-index) start with a dot.
func visibleNames(dir string) []string {
	var out []string
	for _, n := range testenv.ReadDirNames(dir) {
		if !strings.HasPrefix(filepath.Base(n), ".") {
			out = append(out, n)
		}
	}
	return out
}

// waitFile waits for exactly one new capture file in dir that is not in seen.
func waitFile(t *testing.T, dir string, seen map[string]bool, d time.Duration) string {
	t.Helper()
	var got string
	ok := testenv.WaitFor(d, func() bool {
		for _, f := range testenv.ReadDirNames(dir) {
			if !seen[f] && (strings.HasSuffix(f, ".pcap") || strings.HasSuffix(f, ".pcapng")) {
				got = f
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no capture file appeared in %s within %v (have %v)", dir, d, testenv.ReadDirNames(dir))
	}
	seen[got] = true
	return got
}

// sendUntil sends the frames every 100ms (bounded: at most 50 rounds) until
// stop returns true: the daemon arms its socket asynchronously, and the test
// only knows it is armed once packets arrive.
func sendUntil(t *testing.T, p *netns.Pair, frames [][]byte, stop func() bool) {
	t.Helper()
	for i := 0; i < 50 && !stop(); i++ {
		if err := p.Send(frames); err != nil {
			t.Fatalf("send: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seedConfig is the seed README's example config with only hosts and paths
// changed.
func seedConfig(redisPort, httpPort int, localdir, iface string) string {
	return fmt.Sprintf(`[general]
maxpackets      = 50000
writelocal      = true
localdir        = %q
snaplength      = 500
defaulttimeout  = 10
maxtimeout      = 3600
maxduration     = 3600
maxbytes        = 100000000
packetdebug     = false

[cloudshark]
host        = "www.cloudshark.org"
scheme      = "https"
port        = 443
token       = "fffffffffffffffffff"
upload      = false

[redis]
listen		= true
host        = "127.0.0.1"
port        = %d
channel     = "capture"

[syslog]
priority    = 0
tag         = "pcapdaemon"

[[interface]]
name        = %q
alias       = ["main", "public"]

[[interface]]
name        = "lo"
alias       = ["local"]

[http]
listen = "127.0.0.1:%d"
`, localdir, redisPort, iface, httpPort)
}

func TestEndToEndRedisToLocalFile(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pair := netns.NewVethPair(t)
	redis := testenv.StartRedis(t)
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	httpPort := testenv.FreePort(t)
	api := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	if err := os.WriteFile(cfg, []byte(seedConfig(redis.Port, httpPort, dir, pair.Host)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "-config", cfg)
	subscribed := func() bool {
		out, err := redis.CLI("PUBSUB", "NUMSUB", "capture")
		return err == nil && strings.HasSuffix(out, "1")
	}
	if !testenv.WaitFor(15*time.Second, subscribed) {
		t.Fatalf("daemon never subscribed to the channel\n%s", d.Logs())
	}

	match := [][]byte{udpFrame(pair, 9999, []byte("one")), udpFrame(pair, 9999, []byte("two")), udpFrame(pair, 9999, []byte("three"))}
	noise := [][]byte{udpFrame(pair, 53, []byte("noise")), udpFrame(pair, 7777, []byte("noise"))}
	seen := map[string]bool{}

	capture := func(t *testing.T, publish func(msg string)) string {
		msg := `{"node":"any","alias":["main"],"tags":"blah,tagme","bpf":"udp and dst port 9999",
			"customer":"importantcustomer","snap":1500,"packets":6,"alertid":655443,"timeout":15,
			"duration":60,"bytes":100000,"packetdebug":false}`
		publish(msg)
		var file string
		sendUntil(t, pair, append(append([][]byte{}, noise...), match...), func() bool {
			for _, f := range testenv.ReadDirNames(dir) {
				if !seen[f] && strings.HasSuffix(f, ".pcap") {
					return true
				}
			}
			return false
		})
		file = waitFile(t, dir, seen, 20*time.Second)
		lines := tcpdumpRead(t, file)
		if len(lines) != 6 {
			t.Fatalf("tcpdump -r %s: %d packets, want 6:\n%s", file, len(lines), strings.Join(lines, "\n"))
		}
		for _, l := range lines {
			if !strings.Contains(l, ".9999: UDP") {
				t.Errorf("packet not selected by the filter: %s", l)
			}
		}
		if !strings.HasPrefix(filepath.Base(file), hostname(t)+"-"+pair.Host+"-") {
			t.Errorf("file name %s does not follow <host>-<iface>-<unix>-<id>.pcap", file)
		}
		return file
	}

	redisPublish := func(msg string) {
		if out, err := redis.CLI("PUBLISH", "capture", msg); err != nil || out != "1" {
			t.Fatalf("PUBLISH: %q %v", out, err)
		}
	}
	t.Run("publish", func(t *testing.T) {
		file := capture(t, redisPublish)
		checkPcapFile(t, file, match)
	})

	t.Run("http api", func(t *testing.T) {
		var id string
		file := capture(t, func(msg string) {
			code, reply := httpPost(t, api+"/v1/captures", msg)
			if code != http.StatusAccepted {
				t.Fatalf("POST /v1/captures: %d %v", code, reply)
			}
			id, _ = reply["id"].(string)
		})
		if !strings.HasSuffix(file, "-"+id+".pcap") {
			t.Errorf("file %s is not named after request id %q", file, id)
		}
		var state map[string]any
		ok := testenv.WaitFor(10*time.Second, func() bool {
			resp, err := http.Get(api + "/v1/captures/" + id)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			state = nil
			_ = json.NewDecoder(resp.Body).Decode(&state)
			b, _ := json.Marshal(state)
			return resp.StatusCode == 200 && strings.Contains(string(b), `"status":"ok"`)
		})
		if !ok {
			t.Fatalf("GET /v1/captures/%s never reported status ok: %v", id, state)
		}
		b, _ := json.Marshal(state)
		if !strings.Contains(string(b), file) || !strings.Contains(string(b), `"stop_reason":"packets"`) {
			t.Errorf("result does not name the file %s and stop reason packets: %s", file, b)
		}
		code, reply := httpPost(t, api+"/v1/captures", `{"node":"any","interface":["`+pair.Host+`"],"packets":99999999}`)
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(reply["error"]), "packets") {
			t.Errorf("request above maxpackets: got %d %v, want 400 naming the field", code, reply)
		}
	})

	t.Run("after redis restart", func(t *testing.T) {
		redis.Stop()
		time.Sleep(300 * time.Millisecond)
		redis.Start()
		if !testenv.WaitFor(20*time.Second, subscribed) {
			t.Fatalf("daemon did not resubscribe after redis-server restarted\n%s", d.Logs())
		}
		capture(t, redisPublish)
	})
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// checkPcapFile reads a nanosecond pcap file and checks each record: the
// bytes are one of the frames sent, captured length equals wire length, and
// timestamps are recent and ordered.
func checkPcapFile(t *testing.T, file string, sent [][]byte) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 {
		t.Fatalf("%s: %d bytes, no pcap header", file, len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	if magic != 0xa1b23c4d && magic != 0xa1b2c3d4 {
		t.Fatalf("%s: magic %#x", file, magic)
	}
	nano := magic == 0xa1b23c4d
	if lt := binary.LittleEndian.Uint32(b[20:]); lt != 1 {
		t.Errorf("link type %d, want 1 (EN10MB)", lt)
	}
	prev := time.Time{}
	for off := 24; off < len(b); {
		sec, frac := binary.LittleEndian.Uint32(b[off:]), binary.LittleEndian.Uint32(b[off+4:])
		incl, orig := int(binary.LittleEndian.Uint32(b[off+8:])), int(binary.LittleEndian.Uint32(b[off+12:]))
		data := b[off+16 : off+16+incl]
		off += 16 + incl
		ns := int64(frac)
		if !nano {
			ns *= 1000
		}
		ts := time.Unix(int64(sec), ns)
		if ts.Before(prev) || time.Since(ts) > 5*time.Minute || time.Until(ts) > time.Minute {
			t.Errorf("timestamp %v out of order or not recent", ts)
		}
		prev = ts
		if incl != orig {
			t.Errorf("captured length %d != wire length %d for a frame under the snap length", incl, orig)
		}
		found := false
		for _, f := range sent {
			if bytes.Equal(f, data) {
				found = true
			}
		}
		if !found {
			t.Errorf("captured frame %x is not one of the frames sent", data)
		}
	}
}

// httpPost posts body to the daemon's HTTP API and returns the status and reply.
func httpPost(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}
