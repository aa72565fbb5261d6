//go:build linux

package agent_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
)

// udpFrame builds an Ethernet/IPv4/UDP frame from the pair's peer to its
// host end with the given source port and payload length.
func udpFrame(p *netns.Pair, sport uint16, payload int) []byte {
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(i + int(sport))
	}
	return testenv.UDPFrame(p.HostMAC, p.PeerMAC, p.PeerAddr, p.HostAddr, sport, 9, data) // 9: discard
}

// TestCaptureThroughAgent captures real frames on a veth pair through the
// Agent with a kernel filter, into sink/local, and reads the file back byte
// for byte and with tcpdump.
func TestCaptureThroughAgent(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	for _, tc := range []struct {
		name, format string
		matching     int
		snap         int // 0: the default, 500
		reason       agent.StopReason
	}{
		{"pcap", "pcap", 10, 1500, agent.StopPackets},
		{"pcapng truncated", "pcapng", 10, 0, agent.StopPackets},
		{"no match", "pcap", 0, 0, agent.StopTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sink, err := local.New(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			results := make(chan agent.Result, 4)
			a, err := agent.New(agent.Config{Hostname: "captest"},
				agent.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
				agent.WithSinks(sink), agent.WithPublishers(pubFunc(func(r agent.Result) { results <- r })))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Shutdown(context.Background())

			port := 2000
			if tc.matching == 0 {
				port = 3000 // nothing is sent from there
			}
			msg := `{"node":"captest","interface":["` + p.Host + `"],"bpf":"udp and src port ` + itoa(port) +
				` and src host ` + p.PeerAddr.String() + `","packets":10,"timeout":1,"duration":10,"format":"` + tc.format + `","snap":` + itoa(tc.snap) + `}`
			id, err := a.Submit(context.Background(), []byte(msg), "test")
			if err != nil {
				t.Fatal(err)
			}
			waitRunning(t, a, id)

			// 20 frames: even ones from port 2000 (selected), odd ones from 2001.
			var sent, want [][]byte
			for i := range 20 {
				f := udpFrame(p, uint16(2000+i%2), 18+i*37)
				sent = append(sent, f)
				if i%2 == 0 && tc.matching > 0 {
					want = append(want, f)
				}
			}
			before := time.Now()
			if err := p.Send(sent); err != nil {
				t.Fatal(err)
			}
			var r agent.Result
			select {
			case r = <-results:
			case <-time.After(15 * time.Second):
				t.Fatal("no result")
			}
			if r.StopReason != tc.reason || r.Packets != uint64(len(want)) {
				t.Fatalf("result %+v: want %d packets, stopped by %s", r, len(want), tc.reason)
			}
			if tc.matching == 0 {
				if r.Status != agent.StatusEmpty || len(r.Locations) != 0 {
					t.Errorf("empty capture: %+v", r)
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Errorf("%d files written for an empty capture", len(ents))
				}
				return
			}
			if r.Status != agent.StatusOK || len(r.Locations) != 1 {
				t.Fatalf("result %+v", r)
			}
			path := r.Locations[0]
			wantName := "captest-" + p.Host + "-" + itoa(int(r.Started.Unix())) + "-" + id + "." + tc.format
			if !strings.HasSuffix(path, "/"+wantName) {
				t.Errorf("file %s, want name %s", path, wantName)
			}
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o640 || uint64(fi.Size()) != r.Bytes {
				t.Errorf("file %v (%v): want mode 0640, %d bytes", fi, err, r.Bytes)
			}
			got := readPackets(t, tc.format, path)
			if len(got) != len(want) {
				t.Fatalf("file holds %d packets, want %d", len(got), len(want))
			}
			snap := tc.snap
			if snap == 0 {
				snap = agent.DefaultSnaplen
			}
			for i := range want {
				if !bytes.Equal(got[i].data, want[i][:min(snap, len(want[i]))]) || got[i].wire != len(want[i]) {
					t.Errorf("packet %d: %d bytes (wire %d) differ from the %d sent", i, len(got[i].data), got[i].wire, len(want[i]))
				}
				if got[i].ts.Before(before.Add(-time.Second)) || got[i].ts.After(time.Now()) {
					t.Errorf("packet %d: timestamp %v outside the capture", i, got[i].ts)
				}
			}
			out, err := exec.Command("tcpdump", "-r", path, "-nn").CombinedOutput()
			if err != nil {
				t.Fatalf("tcpdump -r: %v\n%s", err, out)
			}
			lines := strings.Count(string(out), "UDP, length")
			if lines != len(want) || !strings.Contains(string(out), "link-type EN10MB") ||
				!strings.Contains(string(out), p.PeerAddr.String()+".2000 > "+p.HostAddr.String()+".9: UDP") {
				t.Errorf("tcpdump -r printed %d packets, want %d:\n%s", lines, len(want), out)
			}
		})
	}
}

// TestShutdownDeliversRealCapture ends a running real capture with
// Shutdown: the frames it holds still arrive in the file.
func TestShutdownDeliversRealCapture(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	dir := t.TempDir()
	sink, err := local.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan agent.Result, 4)
	a, err := agent.New(agent.Config{Hostname: "captest"},
		agent.WithSinks(sink), agent.WithPublishers(pubFunc(func(r agent.Result) { results <- r })))
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Submit(context.Background(), []byte(`{"node":"any","interface":["`+p.Host+`"],"bpf":"udp","timeout":60,"duration":60}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, a, id)
	frames := [][]byte{udpFrame(p, 5000, 10), udpFrame(p, 5001, 20), udpFrame(p, 5002, 30)}
	if err := p.Send(frames); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the ring's block retire (10 ms timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	r := <-results
	if r.StopReason != agent.StopShutdown || r.Packets != 3 || r.Status != agent.StatusOK {
		t.Fatalf("result %+v", r)
	}
	got := readPackets(t, "pcap", r.Locations[0])
	for i := range frames {
		if !bytes.Equal(got[i].data, frames[i]) {
			t.Errorf("packet %d differs", i)
		}
	}
}

type pubFunc func(agent.Result)

func (f pubFunc) PublishResult(ctx context.Context, r agent.Result) error { f(r); return nil }

func waitRunning(t *testing.T, a *agent.Agent, id string) {
	t.Helper()
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		st, ok := a.Lookup(id)
		if ok && st.Phase == agent.PhaseRunning {
			return
		}
		if ok && st.Phase == agent.PhaseDone {
			t.Fatalf("capture ended before it ran: %+v", st.Results)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("capture never started")
}

type filePacket struct {
	data []byte
	wire int
	ts   time.Time
}

func readPackets(t *testing.T, format, path string) []filePacket {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []filePacket
	if format == "pcapng" {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		for {
			d, ci, err := r.ReadPacketData()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, filePacket{d, ci.Length, ci.Timestamp})
		}
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != 1 {
		t.Errorf("link type %d, want EN10MB", r.LinkType())
	}
	for {
		d, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, filePacket{d, ci.Length, ci.Timestamp})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestProtochainFiltersInUserSpace uses a filter the kernel refuses
// (protochain loops backwards): the agent reopens without a kernel filter
// and filters with bpfcompile's VM, and the file holds only the matches.
func TestProtochainFiltersInUserSpace(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	dir := t.TempDir()
	sink, err := local.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	results := make(chan agent.Result, 4)
	a, err := agent.New(agent.Config{Hostname: "captest"},
		agent.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		agent.WithSinks(sink), agent.WithPublishers(pubFunc(func(r agent.Result) { results <- r })))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	id, err := a.Submit(context.Background(), []byte(`{"node":"any","interface":["`+p.Host+
		`"],"bpf":"ip protochain 17 and src port 2000","packets":3,"timeout":5,"snap":1500}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, a, id)
	var sent, want [][]byte
	for i := range 6 {
		f := udpFrame(p, uint16(2000+i%2), 30+i)
		sent = append(sent, f)
		if i%2 == 0 {
			want = append(want, f)
		}
	}
	if err := p.Send(sent); err != nil {
		t.Fatal(err)
	}
	var r agent.Result
	select {
	case r = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("no result")
	}
	if r.Status != agent.StatusOK || r.Packets != 3 || r.StopReason != agent.StopPackets {
		t.Fatalf("result %+v", r)
	}
	got := readPackets(t, "pcap", r.Locations[0])
	for i := range want {
		if !bytes.Equal(got[i].data, want[i]) {
			t.Errorf("packet %d is not the %d-th matching frame", i, i)
		}
	}
	if !strings.Contains(logs.String(), "filtering in user space") {
		t.Errorf("the fallback to user-space filtering was not logged:\n%s", logs.String())
	}
}
