package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// A request with "merge": true over the HTTP API, to the real binary, on
// two veth pairs: one pcapng file holding both interfaces' frames in time
// order (read back with tcpdump and a pcapng reader), and one result per
// interface naming that file.
func TestEndToEndMergedCapture(t *testing.T) {
	testenv.RequireRoot(t)
	a, b := netns.NewVethPair(t), netns.NewVethPair(t)
	redis := testenv.StartRedis(t)
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	httpPort := testenv.FreePort(t)
	api := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	if err := os.WriteFile(cfg, []byte(seedConfig(redis.Port, httpPort, dir, a.Host)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "-config", cfg)
	if !testenv.WaitFor(15*time.Second, func() bool {
		resp, err := http.Get(api + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("HTTP API never came up\n%s", d.Logs())
	}

	const want = 20
	id := fmt.Sprintf("merged-%d", os.Getpid())
	code, reply := httpPost(t, api+"/v1/captures", fmt.Sprintf(`{"id":%q,"node":"any","interface":[%q,%q],
		"merge":true,"bpf":"udp and dst port 9999","packets":%d,"timeout":15,"duration":60}`, id, a.Host, b.Host, want))
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/captures: %d %v", code, reply)
	}
	// Frames alternate between the links, a noise frame between them, each
	// payload naming its link and its place; sent until the file is there.
	seen := map[string]bool{}
	for i := 0; ; i++ {
		if names := visibleNames(dir); len(names) > 0 && strings.HasSuffix(names[0], ".pcapng") {
			break
		}
		if i > 4000 {
			t.Fatalf("no file after %d frames\n%s", i, d.Logs())
		}
		p, tag := a, "a"
		if i%2 == 1 {
			p, tag = b, "b"
		}
		if err := p.Send([][]byte{udpFrame(p, 9999, []byte(fmt.Sprintf("%s-%06d", tag, i))), udpFrame(p, 53, []byte("noise"))}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	file := waitFile(t, dir, seen, 20*time.Second)
	if names := visibleNames(dir); len(names) != 1 {
		t.Fatalf("files %v, want one merged file", names)
	}
	if base := filepath.Base(file); !strings.HasPrefix(base, hostname(t)+"-"+a.Host+"+"+b.Host+"-") || !strings.HasSuffix(base, "-"+id+".pcapng") {
		t.Errorf("file name %s, want <host>-%s+%s-<unix>-%s.pcapng", base, a.Host, b.Host, id)
	}

	lines := tcpdumpRead(t, file)
	if len(lines) != want {
		t.Fatalf("tcpdump -r: %d packets, want %d:\n%s", len(lines), want, strings.Join(lines, "\n"))
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	per := [2]int{}
	for k := 0; ; k++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(last) {
			t.Errorf("frame %d at %v is before the one before it (%v)", k, ci.Timestamp, last)
		}
		last = ci.Timestamp
		payload := string(data[len(data)-8:])
		if tag := payload[:1]; (tag == "a") != (ci.InterfaceIndex == 0) {
			t.Errorf("frame %d %q carries interface id %d", k, payload, ci.InterfaceIndex)
		}
		per[ci.InterfaceIndex]++
	}
	// (The reader learns of an interface block when it reaches it.)
	if n := r.NInterfaces(); n != 2 {
		t.Fatalf("%d interface blocks, want 2", n)
	}
	for i, name := range []string{a.Host, b.Host} {
		if ifc, err := r.Interface(i); err != nil || ifc.Name != name {
			t.Errorf("interface %d = %+v, %v; want %s", i, ifc, err, name)
		}
	}
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("frames per interface %v: want both links in the file", per)
	}

	var st agent.RequestState
	if !testenv.WaitFor(10*time.Second, func() bool {
		resp, err := http.Get(api + "/v1/captures/" + id)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		st = agent.RequestState{}
		return json.NewDecoder(resp.Body).Decode(&st) == nil && len(st.Results) == 2
	}) {
		t.Fatalf("GET /v1/captures/%s: %+v, want two results", id, st)
	}
	total := uint64(0)
	for _, res := range st.Results {
		if res.Status != agent.StatusOK || len(res.Locations) != 1 || !strings.HasSuffix(res.Locations[0], filepath.Base(file)) {
			t.Errorf("result %+v: want ok, listing %s", res, filepath.Base(file))
		}
		total += res.Packets
	}
	if total != want {
		t.Errorf("results count %d packets in all, want %d", total, want)
	}
}
