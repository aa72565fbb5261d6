package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// getJSON GETs api+path, wants 200 and decodes the JSON answer into v.
func getJSON(t *testing.T, api, path string, v any) {
	t.Helper()
	code, body := testenv.GetText(t, api+path)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// listed returns the ids of every page of GET /v1/captures with limit,
// newest first.
func listed(t *testing.T, api string, limit int) []string {
	t.Helper()
	var ids []string
	path := fmt.Sprintf("/v1/captures?limit=%d", limit)
	for range 100 {
		var p agent.ListPage
		getJSON(t, api, path, &p)
		for _, st := range p.Captures {
			ids = append(ids, st.ID)
		}
		if p.Next == "" {
			return ids
		}
		path = fmt.Sprintf("/v1/captures?limit=%d&cursor=%s", limit, p.Next)
	}
	t.Fatal("more than 100 pages")
	return nil
}

// TestEndToEndCaptureIndexRestart runs the binary with the HTTP API and a
// local directory only, and captures on a veth pair over HTTP: while the
// capture runs, GET shows its live counters from the socket; its results
// echo alertid, tags and customer; GET /v1/captures lists the requests
// page by page. Then the daemon stops and starts again: the requests are
// still listed and looked up with the same results (the index in the local
// directory), and the capture's file is served, as tcpdump reads it. A
// reload to localmaxfiles = 1 then removes the older file: counted, and
// its download answers 404 saying why.
func TestEndToEndCaptureIndexRestart(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	localDir := t.TempDir()
	port := testenv.FreePort(t)
	api := apiURL(port)
	cfg := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	writeConf(t, cfg, daemonConf{httpPort: port, localDir: localDir, general: []string{"localmaxfiles = 100"}})

	d := startDaemon(t, "-config", cfg)
	waitHTTP(t, d, api)
	post := func(body string) {
		t.Helper()
		if code, reply := httpPost(t, api+"/v1/captures", body); code != http.StatusAccepted {
			t.Fatalf("POST %s: %d %v", body, code, reply)
		}
	}
	const id = "e2e-index-1"
	post(`{"id":"` + id + `","node":"any","interface":["` + pair.Host + `"],"bpf":"udp and dst port 9999","packets":5,"timeout":30,` +
		`"alertid":655443,"tags":"blah,tagme","customer":"acme"}`)
	waitArmed(t, api, id)
	sent := frames(pair, 5, "idx")
	send(t, pair, sent[:3])
	var st agent.RequestState
	start := time.Now()
	ok := testenv.WaitFor(5*time.Second, func() bool {
		getJSON(t, api, "/v1/captures/"+id, &st)
		return len(st.Live) == 1 && st.Live[0].Packets == 3
	})
	t.Logf("live counters %+v, %v after the frames", st.Live, time.Since(start).Round(time.Millisecond))
	if !ok || st.Live[0].Interface != pair.Host || st.Live[0].Bytes == 0 || st.Live[0].Since.IsZero() || st.Results == nil {
		t.Fatalf("running capture: %+v, want live counters of 3 packets on %s", st, pair.Host)
	}
	send(t, pair, sent[3:])
	done := waitDone(t, api, id, 15*time.Second)
	res := done.Results[0]
	if res.Status != agent.StatusOK || res.Packets != 5 || res.AlertID != 655443 || res.Tags != "blah,tagme" || res.Customer != "acme" {
		t.Fatalf("result %+v, want ok with 5 packets echoing alertid, tags and customer", res)
	}
	i := slices.IndexFunc(res.Locations, func(l string) bool { return filepath.Dir(l) == localDir })
	if i < 0 {
		t.Fatalf("no local file among %v", res.Locations)
	}
	file := res.Locations[i]
	const id2 = "e2e-index-2"
	post(`{"id":"` + id2 + `","node":"any","interface":["` + pair.Host + `"],"bpf":"udp and dst port 9999","packets":1,"timeout":30}`)
	waitArmed(t, api, id2)
	send(t, pair, frames(pair, 1, "second"))
	waitDone(t, api, id2, 15*time.Second)
	if got := listed(t, api, 1); !slices.Equal(got, []string{id2, id}) {
		t.Fatalf("GET /v1/captures a page of one at a time: %v, want [%s %s]", got, id2, id)
	}

	// Stop (SIGINT, to the PID this test started) and start again.
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		t.Fatal("daemon still running 15s after SIGINT")
	}
	d2 := startDaemon(t, "-config", cfg)
	waitHTTP(t, d2, api)
	waitLog(t, d2, "requests of earlier processes loaded from the index", 5*time.Second)

	if got := listed(t, api, 50); !slices.Equal(got, []string{id2, id}) {
		t.Errorf("GET /v1/captures after the restart: %v, want [%s %s]", got, id2, id)
	}
	var again agent.RequestState
	getJSON(t, api, "/v1/captures/"+id, &again)
	if r := again.Results; again.Phase != agent.PhaseDone || len(r) != 1 || r[0].Packets != 5 || r[0].AlertID != 655443 ||
		!slices.Equal(r[0].Locations, res.Locations) || !r[0].Ended.Equal(res.Ended) {
		t.Errorf("GET /v1/captures/%s after the restart: %+v, want %+v", id, again, done)
	}

	resp, err := http.Get(api + "/v1/captures/" + id + "/file")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET file after the restart: %d, %v: %s", resp.StatusCode, err, body)
	}
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.tcpdump.pcap" || params["filename"] != filepath.Base(file) {
		t.Errorf("Content-Type %q, Content-Disposition %q; want the pcap type and %s", ct, resp.Header.Get("Content-Disposition"), filepath.Base(file))
	}
	onDisk, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(body, onDisk) {
		t.Fatalf("downloaded %d bytes, the file holds %d (%v)", len(body), len(onDisk), err)
	}
	got := filepath.Join(t.TempDir(), "download.pcap")
	if err := os.WriteFile(got, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if lines := tcpdumpRead(t, got); len(lines) != 5 {
		t.Errorf("tcpdump -r of the download: %d packets, want 5:\n%v", len(lines), lines)
	}
	checkPcapFile(t, got, sent)

	// Retention: a reload that allows one file removes the older capture's
	// (logged and counted), whose download then answers 404 saying why.
	m := testenv.Scrape(t, api)
	if m["pcapdaemon_local_files"] != 2 || m[series("pcapdaemon_local_removed_total", "reason", "files")] != 0 {
		t.Errorf("before the reload: local_files %v, local_removed_total{files} %v; want 2 and 0",
			m["pcapdaemon_local_files"], m[series("pcapdaemon_local_removed_total", "reason", "files")])
	}
	writeConf(t, cfg, daemonConf{httpPort: port, localDir: localDir, general: []string{"localmaxfiles = 1"}})
	if err := d2.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !testenv.WaitFor(10*time.Second, func() bool { _, err := os.Stat(file); return errors.Is(err, fs.ErrNotExist) }) {
		t.Fatalf("%s still there after the reload to localmaxfiles = 1", file)
	}
	waitLog(t, d2, "local capture removed by retention", 5*time.Second)
	code, text := testenv.GetText(t, api+"/v1/captures/"+id+"/file")
	if code != http.StatusNotFound || !strings.Contains(text, "removed by retention") {
		t.Errorf("GET the removed file: %d %s, want 404 saying it was removed by retention", code, text)
	}
	m = testenv.Scrape(t, api)
	if m["pcapdaemon_local_files"] != 1 || m[series("pcapdaemon_local_removed_total", "reason", "files")] != 1 {
		t.Errorf("after the reload: local_files %v, local_removed_total{files} %v; want 1 and 1",
			m["pcapdaemon_local_files"], m[series("pcapdaemon_local_removed_total", "reason", "files")])
	}
}
