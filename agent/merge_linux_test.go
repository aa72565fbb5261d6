//go:build linux

package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile/capfiletest"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// localDir is a Sink writing files into a directory (a small stand-in
// for sink/local, which imports this package).
type localDir string

func (d localDir) Name() string { return "dir" }

func (d localDir) Deliver(ctx context.Context, c *Capture) (string, error) {
	f, err := os.Create(string(d) + "/" + c.FileName)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.ReadFrom(c.Data.NewReader()); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// TestMergedCaptureVeth captures real frames sent alternately on two veth
// pairs as one merged request: one file, read back by tcpdump, with every
// frame once, in the order sent, under its interface's id.
func TestMergedCaptureVeth(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pairs := []*netns.Pair{netns.NewVethPair(t), netns.NewVethPair(t)}
	dir := t.TempDir()
	results := make(chan Result, 4)
	var opened atomic.Int32
	a, err := New(Config{Hostname: "mergetest"},
		WithSinks(localDir(dir)), WithPublishers(&chanPublisher{results}),
		WithOpener(func(ifname string, cfg afpacket.Config) (Handle, error) {
			h, err := OpenAFPacket(ifname, cfg)
			if err == nil {
				opened.Add(1) // the filter is attached: the socket is armed
			}
			return h, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())

	const perIf = 25
	msg := fmt.Sprintf(`{"node":"any","interface":[%q,%q],"merge":true,"bpf":"udp and dst port 9","packets":%d,"timeout":10,"duration":30,"snap":200}`,
		pairs[0].Host, pairs[1].Host, 2*perIf)
	id, err := a.Submit(context.Background(), []byte(msg), "test")
	if err != nil {
		t.Fatal(err)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { return opened.Load() == 2 }) {
		t.Fatal("the two sockets were not armed")
	}
	// Frame i goes out on pair i%2 from source port 3000+i, so the
	// merged file must list the ports in order.
	for i := range 2 * perIf {
		p := pairs[i%2]
		f := testenv.UDPFrame(p.HostMAC, p.PeerMAC, p.PeerAddr, p.HostAddr, uint16(3000+i), 9, make([]byte, 10+i))
		if err := p.Send([][]byte{f}); err != nil {
			t.Fatal(err)
		}
	}
	var rs []Result
	for range 2 {
		select {
		case r := <-results:
			rs = append(rs, r)
		case <-time.After(15 * time.Second):
			t.Fatal("no result")
		}
	}
	if rs[0].Interface != pairs[0].Host {
		rs[0], rs[1] = rs[1], rs[0]
	}
	wantName := fmt.Sprintf("mergetest-%s+%s-%d-%s.pcapng", pairs[0].Host, pairs[1].Host, min(rs[0].Started.Unix(), rs[1].Started.Unix()), id)
	for i, r := range rs {
		if r.Interface != pairs[i].Host || r.Status != StatusOK || r.Packets != perIf || r.StopReason != StopPackets ||
			len(r.Locations) != 1 || r.Locations[0] != dir+"/"+wantName {
			t.Errorf("result %d: %+v, want %d packets of %s in %s", i, r, perIf, pairs[i].Host, wantName)
		}
	}
	if names := testenv.ReadDirNames(dir); len(names) != 1 {
		t.Errorf("directory holds %v, want one file", names)
	}
	path := dir + "/" + wantName

	// tcpdump reads the multi-interface file and lists every frame once,
	// in the order sent, with non-decreasing times.
	out, err := exec.Command("tcpdump", "-r", path, "-nn", "-tt", "--time-stamp-precision=nano").CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`^(\d+\.\d{9}) IP \S+\.(\d+) > \S+\.9: UDP, length (\d+)$`)
	var lines []string
	for l := range strings.Lines(string(out)) {
		if strings.Contains(l, "UDP") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) != 2*perIf {
		t.Fatalf("tcpdump -r printed %d frames, want %d:\n%s", len(lines), 2*perIf, out)
	}
	prev := ""
	for i, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil || m[2] != strconv.Itoa(3000+i) || m[3] != strconv.Itoa(10+i) {
			t.Errorf("frame %d: %q, want source port %d", i, l, 3000+i)
			continue
		}
		if len(m[1]) == len(prev) && m[1] < prev || len(m[1]) < len(prev) {
			t.Errorf("frame %d at %s is older than the one before (%s)", i, m[1], prev)
		}
		prev = m[1]
	}

	// The blocks themselves: an IDB per interface, the EPBs' ids, an ISB
	// per interface with its counters.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := capfiletest.ParseNG(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Interfaces) != 2 {
		t.Fatalf("%d IDBs, want 2", len(f.Interfaces))
	}
	for i, idb := range f.Interfaces {
		if idb != (capfiletest.IDB{LinkType: 1, Snaplen: 200, Name: pairs[i].Host, Tsresol: 9}) {
			t.Errorf("IDB %d: %+v", i, idb)
		}
	}
	for i, p := range f.Packets {
		if p.IfID != uint32(i%2) {
			t.Errorf("frame %d under interface %d, want %d", i, p.IfID, i%2)
		}
	}
	if len(f.Stats) != 2 {
		t.Fatalf("%d ISBs, want 2", len(f.Stats))
	}
	for i, st := range f.Stats {
		if st.IfID != uint32(i) || st.Delivered != perIf || !st.HasKernel || st.Received < perIf {
			t.Errorf("ISB %d: %+v, want interface %d with %d delivered", i, st, i, perIf)
		}
	}
}
