package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// bytesData is agent.CaptureData over a byte slice.
type bytesData []byte

func (b bytesData) Len() int64               { return int64(len(b)) }
func (b bytesData) NewReader() io.ReadSeeker { return bytes.NewReader(b) }

// fakeRequests answers Lookup from a map; List and Cancel are not used.
type fakeRequests map[string]agent.RequestState

func (f fakeRequests) Lookup(id string) (agent.RequestState, bool)  { st, ok := f[id]; return st, ok }
func (f fakeRequests) Cancel(string) error                          { return agent.ErrUnknownID }
func (f fakeRequests) List(agent.ListQuery) (agent.ListPage, error) { return agent.ListPage{}, nil }

const fileToken = "token-of-the-file-test"

// serveAPI serves be on a loopback port with fileToken until the test
// ends, and returns its base URL.
func serveAPI(t *testing.T, be httpapi.Backend) string {
	t.Helper()
	refuse := transport.SubmitterFunc(func(context.Context, []byte, string) (string, error) {
		return "", errors.New("no submissions here")
	})
	s, err := httpapi.New(httpapi.Options{Listen: "127.0.0.1:0", Token: fileToken}, refuse, be, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + addr.String()
}

// get sends GET path with the token (and hdr) and returns the response.
func get(t *testing.T, base, path string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fileToken)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// errorText reads a JSON error answer.
func errorText(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var e struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("error answer is not JSON: %v", err)
	}
	return e.Error
}

// TestCaptureFileAPI serves a real local sink's files over real HTTP:
// the file as an attachment with its content type, Range requests, the
// reasons of a 404, and a download that retention cuts from the
// directory while it runs, which still arrives whole.
func TestCaptureFileAPI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "pcapdaemon.toml")
	os.WriteFile(file, []byte(fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\nlocalmaxfiles = 1\nmaxbytes = 1000\n", dir)), 0o600)
	cfg, err := config.Load([]string{"-config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.New("test", nil)
	log := slog.New(slog.DiscardHandler)
	_, sink, err := buildSinks(context.Background(), cfg, log, reg)
	if err != nil || sink == nil {
		t.Fatalf("buildSinks: %v, local sink %v", err, sink)
	}
	ld := newLocalDir(log)
	ld.cur.Store(sink)
	reg.WatchLocal(ld.state)

	// 16 MiB: more than the sockets buffer, so the server is still
	// sending from the file when retention removes it.
	data := make([]byte, 16<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	deliver := func(name string, b []byte) string {
		t.Helper()
		p, err := sink.Deliver(context.Background(), &agent.Capture{FileName: name, Data: bytesData(b), Packets: 1})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := deliver("host-eth0-1700000000-big.pcap", data)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(big, old, old)
	ng := filepath.Join(dir, "host-eth1-1700000000-two.pcapng")
	ok := func(iface string, locs ...string) agent.Result {
		return agent.Result{Interface: iface, Status: agent.StatusOK, Packets: 1, Locations: locs}
	}
	reqs := fakeRequests{
		"big":     {ID: "big", Phase: agent.PhaseDone, Interfaces: []string{"eth0"}, Results: []agent.Result{ok("eth0", "s3://b/k", big)}},
		"two":     {ID: "two", Phase: agent.PhaseDone, Interfaces: []string{"eth0", "eth1"}, Results: []agent.Result{ok("eth0", big), ok("eth1", ng)}},
		"s3":      {ID: "s3", Phase: agent.PhaseDone, Interfaces: []string{"eth0"}, Results: []agent.Result{ok("eth0", "s3://b/k.pcap")}},
		"running": {ID: "running", Phase: agent.PhaseRunning, Interfaces: []string{"eth0"}, Results: []agent.Result{}},
	}
	base := serveAPI(t, apiBackend{ag: func() requests { return reqs }, local: ld})

	// A Range request.
	resp := get(t, base, "/v1/captures/big/file", "Range", "bytes=100-199")
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, data[100:200]) {
		t.Errorf("Range 100-199: %d with %d bytes, want 206 with bytes 100-199", resp.StatusCode, len(part))
	}

	// Without the token: refused.
	if resp, err := http.Get(base + "/v1/captures/big/file"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without the token: %v, %v; want 401", resp.Status, err)
	}

	// The download, and retention during it.
	resp = get(t, base, "/v1/captures/big/file")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET file: %d %s", resp.StatusCode, errorText(t, resp))
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if ct := resp.Header.Get("Content-Type"); ct != httpapi.ContentTypePcap || err != nil ||
		params["filename"] != "host-eth0-1700000000-big.pcap" || resp.ContentLength != int64(len(data)) {
		t.Errorf("headers: Content-Type %q, Content-Disposition %q, Content-Length %d",
			ct, resp.Header.Get("Content-Disposition"), resp.ContentLength)
	}
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	deliver("host-eth0-1700000100-newer.pcap", []byte("newer")) // localmaxfiles = 1: big goes
	if _, err := os.Stat(big); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("retention left %s (%v)", big, err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the download broke off after the file was removed: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, want the %d of the file unchanged", len(got), len(data))
	}
	if v := gaugeValue(t, reg, "pcapdaemon_local_removed_total", "reason", "files"); v != 1 {
		t.Errorf("pcapdaemon_local_removed_total{reason=files} = %v, want 1", v)
	}
	if v := gaugeValue(t, reg, "pcapdaemon_local_files"); v != 1 {
		t.Errorf("pcapdaemon_local_files = %v, want 1", v)
	}

	for _, tt := range []struct {
		path string
		code int
		says string
	}{
		{"/v1/captures/big/file", http.StatusNotFound, "no longer in the local directory: removed by retention"},
		{"/v1/captures/s3/file", http.StatusNotFound, "not kept in the local directory; it went to s3://b/k.pcap"},
		{"/v1/captures/running/file", http.StatusNotFound, "still running"},
		{"/v1/captures/nosuch/file", http.StatusNotFound, `no capture request with id "nosuch"`},
		{"/v1/captures/two/file", http.StatusBadRequest, "name one with ?interface="},
		{"/v1/captures/two/file?interface=eth1", http.StatusNotFound, "host-eth1-1700000000-two.pcapng is no longer in the local directory"},
	} {
		resp := get(t, base, tt.path)
		if msg := errorText(t, resp); resp.StatusCode != tt.code || !strings.Contains(msg, tt.says) {
			t.Errorf("GET %s: %d %q, want %d saying %q", tt.path, resp.StatusCode, msg, tt.code, tt.says)
		}
	}
}

// gaugeValue returns the value of the metric name with exactly labels.
func gaugeValue(t *testing.T, reg *metrics.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel())*2 != len(labels) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}
