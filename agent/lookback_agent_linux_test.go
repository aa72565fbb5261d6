//go:build linux

package agent

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/afpacket/afpackettest"
)

// memLookback returns a Lookback whose rings are rings over memory that
// hold rings[iface] (blocks of lbBlock bytes, all handed over), for an
// agent made with WithLookback(lb); call apply once the agent's clock is
// known.
type memLookback struct {
	*Lookback
	fill map[string][]afpackettest.Frame
}

const lbBlock = 4096

func newMemLookback(fill map[string][]afpackettest.Frame) *memLookback {
	m := &memLookback{Lookback: NewLookback(LookbackOptions{Poll: 10 * time.Millisecond}), fill: fill}
	m.present = func(string) bool { return true }
	m.lookup = fakeInterfaces("eth0", "eth1")
	m.open = func(ifname string, cfg afpacket.Config) (lookbackConn, error) {
		blocks := testBlocks(lbBlock, m.fill[ifname])
		n := max(len(blocks)*2, 16)
		mem := make([]byte, n*lbBlock)
		c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: lbBlock, NumBlocks: n, LinkType: afpacket.LinkTypeEthernet})
		if err != nil {
			return nil, err
		}
		k := &memKernel{mem: mem, size: lbBlock, blocks: blocks}
		k.fill(len(blocks))
		return c, nil
	}
	return m
}

// apply opens the rings with clock, and closes them when t ends.
func (m *memLookback) apply(t *testing.T, clock Clock, ifaces ...string) {
	t.Helper()
	m.clock = clock
	var cfgs []LookbackConfig
	for _, name := range ifaces {
		cfgs = append(cfgs, LookbackConfig{Interface: name, Bytes: 1 << 20})
	}
	if err := m.Apply(cfgs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	for _, st := range m.Status() {
		if !st.Open {
			t.Fatalf("ring on %s not open: %s", st.Interface, st.Error)
		}
	}
}

// filePorts reads a pcap or pcapng file and returns its frames' numbers
// (UDP source port less 1000) and times.
func filePorts(t *testing.T, data []byte) ([]int, []time.Time) {
	t.Helper()
	var ports []int
	var times []time.Time
	forEachFrame(t, data, func(d []byte, ts time.Time) {
		ports = append(ports, int(d[34])<<8|int(d[35])-1000)
		times = append(times, ts)
	})
	return ports, times
}

// forEachFrame calls fn with every frame of a pcap or pcapng file.
func forEachFrame(t *testing.T, data []byte, fn func(d []byte, ts time.Time)) {
	t.Helper()
	if bytes.HasPrefix(data, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		forEachFrameNG(t, data, func(_ int, d []byte, ts time.Time) { fn(d, ts) })
		return
	}
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(d, ci.Timestamp)
	}
}

// forEachFrameNG calls fn with every frame of a pcapng file and its
// interface id.
func forEachFrameNG(t *testing.T, data []byte, fn func(ifID int, d []byte, ts time.Time)) {
	t.Helper()
	opts := pcapgo.DefaultNgReaderOptions
	opts.WantMixedLinkType = true // "any" and an Ethernet interface in one file
	r, err := pcapgo.NewNgReader(bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(ci.InterfaceIndex, d, ci.Timestamp)
	}
}

// lbTimeline is the traffic of the look-back tests: frames 0..204 every
// 10 ms from 2 s before the request (lbBase, the fake clock's start): the
// ring holds them all; the capture's own socket sees frame 199 (stamped
// before the seam, in flight while it was armed), 200..204 (at and after
// the seam, which the ring holds too) and 205..209.
func lbTimeline() (ring []afpackettest.Frame, live []scripted) {
	ring = lbFrames(205, 100, -2*time.Second, 10*time.Millisecond)
	for i := 199; i < 210; i++ {
		live = append(live, scripted{at: time.Duration(i-200) * 10 * time.Millisecond, data: testFrame(100, uint16(1000+i))})
	}
	return ring, live
}

func TestLookbackRequest(t *testing.T) {
	from := lbBase.Add(-2 * time.Second)
	for _, tc := range []struct {
		name     string
		fields   string
		live     bool // the capture's own socket sees the live frames
		want     []int
		lookback uint64
		reason   StopReason
	}{
		{"window then live", `"lookback":1,"timeout":1`, true, span(100, 210), 100, StopTimeout},
		{"packets within the look-back part", `"lookback":1,"packets":30`, true, span(100, 130), 30, StopPackets},
		{"packets across the seam", `"lookback":1,"packets":105`, true, span(100, 205), 100, StopPackets},
		// Header 24, records 16+100: the 51st crosses 24+50*116.
		{"bytes within the look-back part", `"lookback":1,"bytes":5825`, true, span(100, 151), 51, StopBytes},
		{"more than the ring holds", `"lookback":300,"timeout":1`, true, span(0, 210), 200, StopTimeout},
		{"filter", `"lookback":2,"bpf":"udp src port 1001","timeout":1`, false, []int{1}, 1, StopTimeout},
		{"nothing live", `"lookback":1,"timeout":1`, false, span(100, 200), 100, StopTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, live := lbTimeline()
			lb := newMemLookback(map[string][]afpackettest.Frame{"eth0": ring})
			ta := newTestAgent(t, Config{}, WithLookback(lb.Lookback))
			lb.apply(t, ta.clock, "eth0")
			if tc.live {
				ta.host.scripts["eth0"] = live
			}
			submit(t, ta, `{"node":"any","interface":["eth0"],`+tc.fields+`}`)
			r := ta.result(t)
			if r.Status != StatusOK || r.StopReason != tc.reason {
				t.Fatalf("result %+v, want ok, stopped by %s", r, tc.reason)
			}
			if r.LookbackPackets == nil || *r.LookbackPackets != tc.lookback || r.Packets != uint64(len(tc.want)) {
				t.Errorf("lookback_packets %v, packets %d, want %d and %d", r.LookbackPackets, r.Packets, tc.lookback, len(tc.want))
			}
			if r.LookbackFrom == nil || !r.LookbackFrom.Equal(from) {
				t.Errorf("lookback_from %v, want %v (the oldest frame held)", r.LookbackFrom, from)
			}
			_, data := ta.sink.captures()
			ports, times := filePorts(t, data[0])
			if !slices.Equal(ports, tc.want) {
				t.Errorf("frames %v\nwant %v", ports, tc.want)
			}
			if !slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
				t.Error("frames out of time order")
			}
		})
	}
}

// The ring path: the capture's own ring holds a frame stamped before the
// seam (in flight while it was armed), which the look-back part has:
// Limits.Start leaves it out, and the packet limit counts both parts.
func TestLookbackRequestRingPath(t *testing.T) {
	for _, format := range []string{FormatPcap, FormatPcapNG} {
		t.Run(format, func(t *testing.T) {
			ring, _ := lbTimeline()
			live := lbFrames(11, 100, -10*time.Millisecond, 10*time.Millisecond) // frames 199..209, renumbered below
			for i := range live {
				live[i].Data = testFrame(100, uint16(1199+i))
			}
			lb := newMemLookback(map[string][]afpackettest.Frame{"eth0": ring})
			var own *afpacket.Conn
			open := func(ifname string, cfg afpacket.Config) (Handle, error) {
				mem := make([]byte, 16*lbBlock)
				c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: lbBlock, NumBlocks: 16, LinkType: afpacket.LinkTypeEthernet})
				if err != nil {
					return nil, err
				}
				k := &memKernel{mem: mem, size: lbBlock, blocks: testBlocks(lbBlock, live)}
				k.fill(len(k.blocks))
				own = c
				return c, nil
			}
			ta := newTestAgent(t, Config{}, WithLookback(lb.Lookback), WithOpener(open))
			lb.apply(t, ta.clock, "eth0")
			submit(t, ta, `{"node":"any","interface":["eth0"],"lookback":1,"packets":110,"format":"`+format+`"}`)
			r := ta.result(t)
			if r.Status != StatusOK || r.StopReason != StopPackets || r.Packets != 110 || *r.LookbackPackets != 100 {
				t.Fatalf("result %+v (lookback_packets %d), want ok, 110 packets of which 100 look back", r, *r.LookbackPackets)
			}
			if own == nil || own.Kept() == 0 {
				t.Error("the capture did not take the ring path")
			}
			_, data := ta.sink.captures()
			if int64(len(data[0])) != int64(r.Bytes) {
				t.Errorf("file of %d bytes, result says %d", len(data[0]), r.Bytes)
			}
			ports, times := filePorts(t, data[0])
			if want := span(100, 210); !slices.Equal(ports, want) {
				t.Errorf("frames %v\nwant %v", ports, want)
			}
			if !slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
				t.Error("frames out of time order")
			}
		})
	}
}

func TestLookbackRejected(t *testing.T) {
	for _, tc := range []struct {
		name, fields string
		want         []string
	}{
		{"above the maximum", `"interface":["eth0"],"lookback":301`, []string{"lookback", "301", "300", "maxlookback"}},
		{"interface without a ring", `"interface":["eth0","eth1"],"lookback":10`, []string{"lookback", `"eth1"`, "[[interface]]", "lookback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, _ := lbTimeline()
			lb := newMemLookback(map[string][]afpackettest.Frame{"eth0": ring})
			ta := newTestAgent(t, Config{}, WithLookback(lb.Lookback))
			lb.apply(t, ta.clock, "eth0")
			_, err := ta.Submit(t.Context(), []byte(`{"node":"any",`+tc.fields+`}`), "test")
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "lookback" {
				t.Fatalf("Submit: %v, want a ValidationError of lookback", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if r := ta.result(t); r.Status != StatusRejected {
				t.Errorf("result %+v, want rejected", r)
			}
		})
	}
}

// A merged capture with look-back: each interface's look-back part comes
// first in its part of the file, the merge puts all in time order, and
// every result counts its own.
func TestLookbackMerged(t *testing.T) {
	ring0 := lbFrames(100, 100, -2*time.Second, 20*time.Millisecond)         // frames 0..99, even 10 ms steps
	ring1 := lbFrames(100, 120, -1990*time.Millisecond, 20*time.Millisecond) // odd steps, 120 bytes
	for i := range ring1 {
		ring1[i].Data = testFrame(120, uint16(1100+i))
	}
	lb := newMemLookback(map[string][]afpackettest.Frame{"eth0": ring0, "eth1": ring1})
	ta := newTestAgent(t, Config{}, WithLookback(lb.Lookback))
	lb.apply(t, ta.clock, "eth0", "eth1")
	// Each interface's read blocks after its frame, until the packet
	// limit (both parts, both interfaces) ends the group.
	ta.host.scripts["eth0"] = []scripted{{at: 5 * time.Millisecond, data: testFrame(100, 1200)}}
	ta.host.scripts["eth1"] = []scripted{{at: 7 * time.Millisecond, data: testFrame(120, 1201)}}
	ta.host.block["eth0"], ta.host.block["eth1"] = true, true
	submit(t, ta, `{"node":"any","interface":["eth0","eth1"],"merge":true,"lookback":1,"packets":102}`)
	rs := []Result{ta.result(t), ta.result(t)}
	if rs[0].Interface != "eth0" {
		rs[0], rs[1] = rs[1], rs[0]
	}
	for i, r := range rs {
		if r.Status != StatusOK || r.LookbackPackets == nil || *r.LookbackPackets != 50 || r.Packets != 51 {
			t.Errorf("result %d: %+v, want ok, 51 packets of which 50 look back", i, r)
		}
	}
	_, data := ta.sink.captures()
	ports, times := filePorts(t, data[0])
	var want []int
	for i := 50; i < 100; i++ {
		want = append(want, i, 100+i)
	}
	want = append(want, 200, 201)
	if !slices.Equal(ports, want) {
		t.Errorf("frames %v\nwant %v", ports, want)
	}
	if !slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Error("frames out of time order")
	}
}

// The presence record and the metrics show what each ring holds; its
// memory comes off the budget.
func TestLookbackNodeAndMetrics(t *testing.T) {
	ring, _ := lbTimeline()
	lb := newMemLookback(map[string][]afpackettest.Frame{"eth0": ring})
	ringBytes := LookbackRingBytes(LookbackConfig{Interface: "eth0", Bytes: 1 << 20})
	ta := newTestAgent(t, Config{MaxMemory: ringBytes + 4<<20}, WithLookback(lb.Lookback),
		WithHostInterfaces(func() ([]HostInterface, error) { return []HostInterface{{Name: "eth0", LinkType: 1}}, nil }))
	lb.apply(t, ta.clock, "eth0")
	held := lbBase.Add(-2 * time.Second)
	last := lbBase.Add(40 * time.Millisecond)
	if !testenvWaitFor(func() bool { return len(lb.Status()) == 1 && lb.Status()[0].Packets == 205 }) {
		t.Fatalf("status %+v", lb.Status())
	}
	n := ta.Node()
	span := n.Interfaces[0].Lookback
	if span == nil || span.Seconds != last.Sub(held).Seconds() || span.Bytes <= 205*100 {
		t.Errorf("node interfaces %+v, want eth0 holding %v", n.Interfaces, last.Sub(held))
	}
	m := ta.Metrics()
	if len(m.Lookback) != 1 || !m.Lookback[0].Open || !m.Lookback[0].Oldest.Equal(held) || !m.Lookback[0].Newest.Equal(last) ||
		m.Lookback[0].RingBytes != ringBytes {
		t.Errorf("metrics %+v", m.Lookback)
	}
	// The budget left is 4 MiB, less than a capture's least ring: the
	// request is refused, naming the rings' share.
	_, err := ta.Submit(t.Context(), []byte(`{"node":"any","interface":["eth0"]}`), "test")
	if !errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), "look-back rings take") {
		t.Errorf("Submit: %v, want not admitted for the rings' memory", err)
	}
}

// testenvWaitFor waits up to 5 s for cond.
func testenvWaitFor(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}
