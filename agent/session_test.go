package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
)

func submit(t *testing.T, ta *testAgent, msg string) string {
	t.Helper()
	id, err := ta.Submit(context.Background(), []byte(msg), "test")
	if err != nil {
		t.Fatalf("Submit(%s) = %v", msg, err)
	}
	return id
}

func TestStopControls(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limits  string
		script  []scripted
		packets uint64
		reason  StopReason
		elapsed time.Duration
	}{
		{"packets", `"packets":3`, frames(10, 100, time.Millisecond), 3, StopPackets, 3 * time.Millisecond},
		// Header 24 bytes, each record 16+100: 140, 256, 372 >= 300 after the third.
		{"bytes", `"bytes":300`, frames(10, 100, time.Millisecond), 3, StopBytes, 3 * time.Millisecond},
		{"bytes exact", `"bytes":256`, frames(10, 100, time.Millisecond), 2, StopBytes, 2 * time.Millisecond},
		{"duration", `"duration":5,"timeout":10`, frames(10, 100, time.Second), 4, StopDuration, 5 * time.Second},
		{"timeout", `"timeout":2`, append(frames(2, 100, 100*time.Millisecond), scripted{at: 9 * time.Second, data: testFrame(100, 1)}),
			2, StopTimeout, 2200 * time.Millisecond},
		{"timeout before any packet", `"timeout":3`, nil, 0, StopTimeout, 3 * time.Second},
		{"default timeout", ``, nil, 0, StopTimeout, 7 * time.Second},
		{"packets before duration", `"packets":2,"duration":1`, frames(10, 100, 400*time.Millisecond), 2, StopPackets, 800 * time.Millisecond},
		{"duration before timeout", `"duration":1,"timeout":2`, nil, 0, StopDuration, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestAgent(t, Config{DefaultTimeout: 7 * time.Second})
			ta.host.scripts["eth0"] = tc.script
			msg := `{"node":"cap1.example.net","interface":["eth0"]`
			if tc.limits != "" {
				msg += "," + tc.limits
			}
			id := submit(t, ta, msg+"}")
			r := ta.result(t)
			if r.ID != id || r.Interface != "eth0" || r.Node != "cap1.example.net" {
				t.Errorf("result names %q/%q/%q", r.ID, r.Interface, r.Node)
			}
			if r.StopReason != tc.reason || r.Packets != tc.packets {
				t.Errorf("stopped by %q after %d packets, want %q after %d", r.StopReason, r.Packets, tc.reason, tc.packets)
			}
			if got := r.Ended.Sub(r.Started); got != tc.elapsed {
				t.Errorf("capture lasted %v, want %v", got, tc.elapsed)
			}
			caps, data := ta.sink.captures()
			if tc.packets == 0 {
				if r.Status != StatusEmpty || len(caps) != 0 || len(r.Locations) != 0 {
					t.Errorf("empty capture: status %q, %d deliveries, locations %v", r.Status, len(caps), r.Locations)
				}
				return
			}
			if r.Status != StatusOK || len(caps) != 1 {
				t.Fatalf("status %q (%s), %d deliveries", r.Status, r.Error, len(caps))
			}
			if r.KernelDrops != 2 || r.Bytes != uint64(len(data[0])) {
				t.Errorf("kernel drops %d bytes %d, want 2 and %d", r.KernelDrops, r.Bytes, len(data[0]))
			}
			if len(r.Locations) != 1 || r.Locations[0] != "mem://"+caps[0].FileName {
				t.Errorf("locations %v", r.Locations)
			}
			// The file holds exactly the first packets of the script.
			pr, err := pcapgo.NewReader(bytes.NewReader(data[0]))
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.packets {
				d, ci, err := pr.ReadPacketData()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if !bytes.Equal(d, tc.script[i].data) || !ci.Timestamp.Equal(r.Started.Add(tc.script[i].at)) {
					t.Errorf("packet %d differs (ts %v)", i, ci.Timestamp)
				}
			}
			if _, _, err := pr.ReadPacketData(); err == nil {
				t.Error("file holds more packets than the result says")
			}
			if h := ta.host.handle("eth0"); !h.closed {
				t.Error("handle not closed")
			}
		})
	}
}

func TestCaptureMetadata(t *testing.T) {
	ta := newTestAgent(t, Config{Snaplen: 1000})
	ta.host.scripts["eth0"] = frames(2, 200, time.Millisecond)
	ta.host.scripts["eth1"] = frames(1, 200, time.Millisecond)
	id := submit(t, ta, `{"nodere":"^cap[0-9]","alias":["public"],"packets":1,"customer":"acme","alertid":42,"tags":"a,b","id":"req-7","format":"pcapng"}`)
	if id != "req-7" {
		t.Errorf("id = %q", id)
	}
	got := map[string]Result{}
	for range 2 {
		r := ta.result(t)
		got[r.Interface] = r
	}
	if len(got) != 2 || got["eth0"].Status != StatusOK || got["eth1"].Status != StatusOK {
		t.Fatalf("results %+v", got)
	}
	caps, data := ta.sink.captures()
	if len(caps) != 2 {
		t.Fatalf("%d captures delivered", len(caps))
	}
	for i, c := range caps {
		wantTags := "customer:acme,alertid:42,a,b,alias:public,node:cap1.example.net,interface:" + c.Interface + ",snaplength:1000"
		wantName := fmt.Sprintf("cap1.example.net-%s-%d-req-7.pcapng", c.Interface, c.Started.Unix())
		if c.Tags != wantTags || c.FileName != wantName || c.Alias != "public" || c.Format != "pcapng" ||
			c.Snaplen != 1000 || c.ID != "req-7" || c.Packets != 1 || c.Request.Packets != 1 {
			t.Errorf("capture %+v\nwant tags %q name %q", c, wantTags, wantName)
		}
		ng, err := pcapgo.NewNgReader(bytes.NewReader(data[i]), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		if ifc, _ := ng.Interface(0); ifc.Name != c.Interface || ifc.SnapLength != 1000 {
			t.Errorf("pcapng interface %+v", ifc)
		}
	}
	st, ok := ta.Lookup("req-7")
	if !ok || st.Phase != PhaseDone || len(st.Results) != 2 || strings.Join(st.Interfaces, ",") != "eth1,eth0" {
		t.Errorf("Lookup = %+v, %v", st, ok)
	}
	if opens := ta.host.opens; len(opens) != 2 || opens[0].Snaplen != 1000 {
		t.Errorf("opens %+v", opens)
	}
}

func TestCancelAndLookup(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.scripts["eth0"] = frames(3, 100, time.Millisecond)
	ta.host.block["eth0"] = true
	id := submit(t, ta, `{"node":"any","interface":["eth0"],"id":"c1"}`)
	ta.host.waitBlocked(t, "eth0")
	st, ok := ta.Lookup(id)
	if !ok || st.Phase != PhaseRunning || len(st.Results) != 0 {
		t.Fatalf("Lookup while running = %+v, %v", st, ok)
	}
	if _, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth1"],"id":"c1"}`), "test"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("running id submitted again: %v, want ErrDuplicate", err)
	}
	if r := ta.result(t); r.ID != id || r.Status != StatusRejected {
		t.Errorf("another request with a running id: published %+v, want a rejected result", r)
	}
	if err := ta.Cancel(id); err != nil {
		t.Fatal(err)
	}
	r := ta.result(t)
	if r.StopReason != StopCancelled || r.Status != StatusOK || r.Packets != 3 {
		t.Errorf("result %+v, want cancelled with 3 packets delivered", r)
	}
	if st, _ := ta.Lookup(id); st.Phase != PhaseDone || len(st.Results) != 1 {
		t.Errorf("Lookup after = %+v", st)
	}
	if err := ta.Cancel(id); !errors.Is(err, ErrUnknownID) {
		t.Errorf("Cancel of a finished request = %v, want ErrUnknownID", err)
	}
	if _, ok := ta.Lookup("nope"); ok {
		t.Error("Lookup of an unknown id succeeded")
	}
	if n, mem := ta.Running(); n != 0 || mem != 0 {
		t.Errorf("after the capture: %d running, %d bytes reserved", n, mem)
	}
}

func TestShutdown(t *testing.T) {
	ta := newTestAgent(t, Config{})
	for _, i := range []string{"eth0", "eth1", "eth2"} {
		ta.host.block[i] = true
	}
	ta.host.scripts["eth0"] = frames(2, 100, time.Millisecond)
	ta.host.scripts["eth1"] = frames(5, 100, time.Millisecond)
	submit(t, ta, `{"node":"any","interface":["eth0","eth1"]}`)
	submit(t, ta, `{"node":"any","interface":["eth2"]}`)
	for _, i := range []string{"eth0", "eth1", "eth2"} {
		ta.host.waitBlocked(t, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ta.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	for range 3 {
		r := ta.result(t)
		got[r.Interface] = r
	}
	for iface, want := range map[string]struct {
		status  Status
		packets uint64
	}{"eth0": {StatusOK, 2}, "eth1": {StatusOK, 5}, "eth2": {StatusEmpty, 0}} {
		r := got[iface]
		if r.StopReason != StopShutdown || r.Status != want.status || r.Packets != want.packets {
			t.Errorf("%s: %+v, want shutdown %s %d packets", iface, r, want.status, want.packets)
		}
	}
	if caps, _ := ta.sink.captures(); len(caps) != 2 {
		t.Errorf("%d captures delivered, want 2", len(caps))
	}
	if _, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth0"]}`), "test"); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Submit after Shutdown = %v", err)
	}
}

// blockingSink waits in Deliver until its context ends.
type blockingSink struct{ started chan struct{} }

func (s *blockingSink) Name() string { return "slow" }
func (s *blockingSink) Deliver(ctx context.Context, c *Capture) (string, error) {
	close(s.started)
	<-ctx.Done()
	return "", ctx.Err()
}

func TestShutdownGraceExpires(t *testing.T) {
	slow := &blockingSink{started: make(chan struct{})}
	ta := newTestAgent(t, Config{})
	ta.Reload(Config{Hostname: "cap1.example.net"}, []Sink{slow})
	ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
	ta.host.block["eth0"] = true
	submit(t, ta, `{"node":"any","interface":["eth0"]}`)
	ta.host.waitBlocked(t, "eth0")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := ta.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the grace period's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	<-slow.started
}

func TestRunShutsDownOnCancel(t *testing.T) {
	ta := newTestAgent(t, Config{ShutdownGrace: 5 * time.Second})
	ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
	ta.host.block["eth0"] = true
	submit(t, ta, `{"node":"any","interface":["eth0"]}`)
	ta.host.waitBlocked(t, "eth0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ta.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := ta.result(t); r.StopReason != StopShutdown || r.Packets != 1 {
		t.Errorf("result %+v", r)
	}
}

func TestUserSpaceFilterWhenKernelRefuses(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.rejectFilter = true
	ta.host.scripts["eth0"] = frames(5, 100, time.Millisecond) // ports 1000..1004
	submit(t, ta, `{"node":"any","interface":["eth0"],"bpf":"udp src port 1001","timeout":1}`)
	r := ta.result(t)
	if r.Status != StatusOK || r.Packets != 1 || r.StopReason != StopTimeout {
		t.Fatalf("result %+v, want one packet", r)
	}
	_, data := ta.sink.captures()
	pr, _ := pcapgo.NewReader(bytes.NewReader(data[0]))
	d, _, err := pr.ReadPacketData()
	if err != nil || !bytes.Equal(d, testFrame(100, 1001)) {
		t.Errorf("captured the wrong packet (%v)", err)
	}
	if opens := ta.host.opens; len(opens) != 2 || opens[0].Filter == nil || opens[1].Filter != nil {
		t.Errorf("opens: %d, want one with the kernel filter then one without", len(opens))
	}
	if !strings.Contains(ta.logText(), "filtering in user space") {
		t.Error("the fallback was not logged")
	}
}

func TestReadErrorEndsCapture(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.scripts["eth0"] = append(frames(2, 100, time.Millisecond),
		scripted{at: 3 * time.Millisecond, err: errors.New("network is down")})
	submit(t, ta, `{"node":"any","interface":["eth0"]}`)
	r := ta.result(t)
	if r.Status != StatusError || r.Packets != 2 || !strings.Contains(r.Error, "reading from eth0: network is down") || len(r.Locations) != 1 {
		t.Errorf("result %+v: want an error with the 2 packets delivered", r)
	}
}

func TestOpenError(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.openErr = errors.New("operation not permitted")
	submit(t, ta, `{"node":"any","interface":["eth0"]}`)
	r := ta.result(t)
	if r.Status != StatusError || r.Error != "opening eth0: operation not permitted" {
		t.Errorf("result %+v", r)
	}
	if n, mem := ta.Running(); n != 0 || mem != 0 {
		t.Errorf("%d running, %d reserved after a failed open", n, mem)
	}
}

func TestDeliveryFailures(t *testing.T) {
	t.Run("all sinks fail", func(t *testing.T) {
		ta := newTestAgent(t, Config{})
		ta.sink.fail = errors.New("disk full")
		ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
		submit(t, ta, `{"node":"any","interface":["eth0"],"packets":1}`)
		r := ta.result(t)
		if r.Status != StatusError || r.Error != "every sink failed: mem: disk full; the capture (1 packets, 140 bytes) is lost" {
			t.Errorf("result %+v", r)
		}
	})
	t.Run("one of two fails", func(t *testing.T) {
		ok := &memSink{name: "ok"}
		ta := newTestAgent(t, Config{}, WithSinks(ok))
		ta.sink.fail = errors.New("denied")
		ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
		submit(t, ta, `{"node":"any","interface":["eth0"],"packets":1}`)
		r := ta.result(t)
		if r.Status != StatusOK || len(r.Locations) != 1 || r.Error != "delivery failed: mem: denied" {
			t.Errorf("result %+v", r)
		}
	})
	t.Run("spool", func(t *testing.T) {
		spool := &memSink{name: "spool"}
		ta := newTestAgent(t, Config{}, WithSpool(spool))
		ta.sink.fail = errors.New("timeout")
		ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
		submit(t, ta, `{"node":"any","interface":["eth0"],"packets":1}`)
		r := ta.result(t)
		if r.Status != StatusError || len(r.Locations) != 1 || !strings.HasPrefix(r.Locations[0], "spool://") ||
			r.Error != "every sink failed: mem: timeout; spooled for a retry" {
			t.Errorf("result %+v", r)
		}
	})
}

func TestPacketDebug(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.scripts["eth0"] = frames(2, 100, time.Millisecond)
	submit(t, ta, `{"node":"any","interface":["eth0"],"packets":2,"packetdebug":true}`)
	ta.result(t)
	logs := ta.logText()
	if n := strings.Count(logs, "msg=packet "); n != 2 {
		t.Errorf("%d packet lines logged, want 2:\n%s", n, logs)
	}
	if !strings.Contains(logs, `summary="UDP 198.18.0.1:1001 > 198.18.0.2:9"`) || !strings.Contains(logs, "len=100") {
		t.Errorf("packet line lacks the summary or length:\n%s", logs)
	}
}
