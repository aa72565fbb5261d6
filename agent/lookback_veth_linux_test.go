//go:build linux

package agent

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// seqSender sends numbered UDP frames (the number in the first four bytes
// of the payload, source port 4000) at about rate frames a second until
// stopped or max frames are out, and says how many went.
type seqSender struct {
	stop chan struct{}
	done chan struct{}
	sent int
	err  error
}

func sendSeq(s *netns.Sender, frame func(seq uint32) []byte, base uint32, rate, max int) *seqSender {
	ss := &seqSender{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ss.done)
		const batch = 5
		tick := time.NewTicker(time.Second * batch / time.Duration(rate))
		defer tick.Stop()
		for ss.sent < max {
			select {
			case <-ss.stop:
				return
			case <-tick.C:
			}
			fs := make([][]byte, batch)
			for i := range fs {
				fs[i] = frame(base + uint32(ss.sent+i))
			}
			if _, err := s.Send(fs); err != nil {
				ss.err = err
				return
			}
			ss.sent += batch
		}
	}()
	return ss
}

// end stops the sender and waits for it.
func (ss *seqSender) end(t *testing.T) {
	t.Helper()
	close(ss.stop)
	<-ss.done
	if ss.err != nil {
		t.Fatal(ss.err)
	}
}

// seqFrame returns frame builders from src to dst with the number in the
// payload.
func seqFrame(dstMAC, srcMAC net.HardwareAddr, p *netns.Pair, toHost bool) func(uint32) []byte {
	src, dst := p.PeerAddr, p.HostAddr
	if !toHost {
		src, dst = dst, src
	}
	return func(seq uint32) []byte {
		payload := make([]byte, 64)
		binary.BigEndian.PutUint32(payload, seq)
		return testenv.UDPFrame(dstMAC, srcMAC, src, dst, 4000, 9, payload)
	}
}

// seqsOf returns the numbers of the frames of a pcap or pcapng file of
// seqFrames: the payload's first four bytes after a cooked or Ethernet
// header.
func seqsOf(t *testing.T, data []byte, cooked bool) ([]uint32, []time.Time) {
	t.Helper()
	hl := 14
	if cooked {
		hl = 20
	}
	var seqs []uint32
	var times []time.Time
	forEachFrame(t, data, func(d []byte, ts time.Time) {
		seqs = append(seqs, binary.BigEndian.Uint32(d[hl+28:]))
		times = append(times, ts)
	})
	return seqs, times
}

// checkRun checks that seqs is a run of consecutive numbers in time order:
// nothing missing, nothing twice.
func checkRun(t *testing.T, seqs []uint32, times []time.Time) {
	t.Helper()
	if len(seqs) == 0 {
		t.Fatal("no frames")
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("frame %d is number %d after %d: a gap or a duplicate at the seam (%d frames from %d)", i, seqs[i], seqs[i-1], len(seqs), seqs[0])
		}
		if times[i].Before(times[i-1]) {
			t.Fatalf("frame %d (number %d) is older than the one before it", i, seqs[i])
		}
	}
}

// lbAgent is an agent with look-back rings whose results come on a
// channel and whose files go to memory.
func lbAgent(t *testing.T, lb *Lookback, logs *testenv.SyncBuffer, opts ...Option) (*Agent, *memSink, chan Result) {
	t.Helper()
	sink := &memSink{name: "mem"}
	pub := &chanPublisher{ch: make(chan Result, 8)}
	a, err := New(Config{Hostname: "lbtest"}, append([]Option{
		WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithLookback(lb), WithSinks(sink), WithPublishers(pub),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return a, sink, pub.ch
}

// awaitResult waits for a result.
func awaitResult(t *testing.T, ch chan Result) Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no result")
		return Result{}
	}
}

// Frames numbered in sequence flow through a veth pair before, during and
// after a request with look-back: the file holds an unbroken run of
// numbers in time order, some from the ring, the rest from the capture's
// own socket, on the ring path and on the copying path, in pcap and
// pcapng.
func TestLookbackSeamVeth(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	var logs testenv.SyncBuffer
	lb := NewLookback(LookbackOptions{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	t.Cleanup(lb.Close)
	if err := lb.Apply([]LookbackConfig{{Interface: p.Host, Bytes: 16 << 20, Snaplen: 1500}}); err != nil {
		t.Fatal(err)
	}
	a, sink, results := lbAgent(t, lb, &logs)
	var sender *netns.Sender
	if err := p.NS.Do(func() (err error) { sender, err = netns.NewSender(p.PeerIndex); return err }); err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	for i, tc := range []struct {
		name, extra string
	}{
		{"ring path", `"format":"pcap"`},
		{"ring path pcapng", `"format":"pcapng"`},
		{"copying path", `"packetdebug":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Numbers of their own: the ring still holds the frames of
			// the subtests before.
			ss := sendSeq(sender, seqFrame(p.HostMAC, p.PeerMAC, p, true), uint32(i)<<24, 5000, 20000)
			defer ss.end(t)
			if !testenv.WaitFor(5*time.Second, func() bool { return lbPackets(lb) >= 1500 }) {
				t.Fatalf("the ring holds %d frames", lbPackets(lb))
			}
			msg := `{"node":"any","interface":["` + p.Host + `"],"bpf":"udp and src port 4000","lookback":300,"duration":1,` + tc.extra + `}`
			if _, err := a.Submit(context.Background(), []byte(msg), "test"); err != nil {
				t.Fatal(err)
			}
			r := awaitResult(t, results)
			if r.Status != StatusOK || r.StopReason != StopDuration || r.LookbackPackets == nil || r.LookbackFrom == nil {
				t.Fatalf("result %+v\n%s", r, logs.String())
			}
			_, data := sink.captures()
			all, allTimes := seqsOf(t, data[i], false)
			// The subtests before sent the first numbers the ring holds.
			var seqs []uint32
			var times []time.Time
			for k, n := range all {
				switch {
				case n>>24 == uint32(i):
					seqs, times = append(seqs, n), append(times, allTimes[k])
				case len(seqs) > 0:
					t.Fatalf("frame %d (%d) of an earlier subtest after this one's", k, n)
				}
			}
			checkRun(t, seqs, times)
			if lbn := *r.LookbackPackets; lbn < 1000 || lbn >= uint64(len(all)) || r.Packets != uint64(len(all)) {
				t.Errorf("%d frames of which %d look back, the result says %d: want both parts", len(all), lbn, r.Packets)
			}
			if !r.LookbackFrom.Before(r.Started) {
				t.Errorf("lookback_from %v is not before the request (%v)", r.LookbackFrom, r.Started)
			}
		})
	}
}

// lbPackets returns the frames the first ring holds.
func lbPackets(lb *Lookback) int64 {
	st := lb.Status()
	if len(st) == 0 {
		return 0
	}
	return st[0].Packets
}

// A ring follows its interface: removed, it is closed (and says so);
// back, it is reopened and holds the new frames.
func TestLookbackInterfaceRemoved(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netns.New(t)
	mk := func() {
		t.Helper()
		for _, args := range [][]string{
			{"link", "add", "lbA", "type", "veth", "peer", "name", "lbB"},
			{"link", "set", "lbA", "up"}, {"link", "set", "lbB", "up"},
		} {
			if err := ns.IP(args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk()
	var logs testenv.SyncBuffer
	lb := NewLookback(LookbackOptions{Log: slog.New(slog.NewTextHandler(&logs, nil)), Poll: 50 * time.Millisecond})
	lb.open = func(ifname string, cfg afpacket.Config) (c lookbackConn, err error) {
		err = ns.Do(func() error {
			conn, err := afpacket.Open(ifname, cfg)
			if err == nil {
				c = conn
			}
			return err
		})
		return c, err
	}
	lb.present = func(ifname string) (up bool) {
		_ = ns.Do(func() error { up = interfaceUp(ifname); return nil })
		return up
	}
	t.Cleanup(lb.Close)
	if err := lb.Apply([]LookbackConfig{{Interface: "lbA", Bytes: 1 << 20}}); err != nil {
		t.Fatal(err)
	}
	send := func(n int) {
		t.Helper()
		err := ns.Do(func() error {
			ifi, err := net.InterfaceByName("lbB")
			if err != nil {
				return err
			}
			s, err := netns.NewSender(ifi.Index)
			if err != nil {
				return err
			}
			defer s.Close()
			fs := make([][]byte, n)
			for i := range fs {
				fs[i] = testFrame(100, uint16(1000+i))
			}
			_, err = s.Send(fs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	holds := func(n int64) func() bool {
		return func() bool { st := lb.Status()[0]; return st.Open && st.Packets >= n }
	}
	send(10)
	if !testenv.WaitFor(5*time.Second, holds(10)) {
		t.Fatalf("ring %+v, want 10 frames", lb.Status()[0])
	}
	if err := ns.IP("link", "del", "lbA"); err != nil {
		t.Fatal(err)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { st := lb.Status()[0]; return !st.Open && st.Packets == 0 && st.Error != "" }) {
		t.Fatalf("ring %+v after its interface went: want it closed, holding nothing", lb.Status()[0])
	}
	if !strings.Contains(logs.String(), "look-back ring closed") {
		t.Errorf("the closing is not logged:\n%s", logs.String())
	}
	mk()
	if !testenv.WaitFor(5*time.Second, func() bool { return lb.Status()[0].Open }) {
		t.Fatalf("ring %+v after its interface came back: want it open", lb.Status()[0])
	}
	send(20)
	if !testenv.WaitFor(5*time.Second, holds(20)) {
		t.Fatalf("ring %+v, want the 20 new frames", lb.Status()[0])
	}
	if !strings.Contains(logs.String(), "look-back ring reopened") {
		t.Errorf("the reopening is not logged:\n%s", logs.String())
	}
}

// "any" and a merged capture with look-back, in a namespace of their own:
// the rings on "any" and on the pair's end there, a request on "any", and
// a merged one on both; each interface's frames are an unbroken run.
func TestLookbackAnyAndMergedVeth(t *testing.T) {
	testenv.RequireRoot(t)
	p := netns.NewVethPair(t)
	inNS := func(f func() error) error { return p.NS.Do(f) }
	var logs testenv.SyncBuffer
	lb := NewLookback(LookbackOptions{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	lb.open = func(ifname string, cfg afpacket.Config) (c lookbackConn, err error) {
		err = inNS(func() error {
			conn, err := afpacket.Open(ifname, cfg)
			if err == nil {
				c = conn
			}
			return err
		})
		return c, err
	}
	lookup := func(name string) (info InterfaceInfo, err error) {
		err = inNS(func() error { info, err = LookupInterface(name); return err })
		return info, err
	}
	lb.present = func(string) bool { return true }
	lb.lookup = lookup
	t.Cleanup(lb.Close)
	if err := lb.Apply([]LookbackConfig{{Interface: "any", Bytes: 8 << 20}, {Interface: p.Peer, Bytes: 8 << 20}}); err != nil {
		t.Fatal(err)
	}
	open := func(ifname string, cfg afpacket.Config) (h Handle, err error) {
		err = inNS(func() error {
			c, err := afpacket.Open(ifname, cfg)
			if err == nil {
				h = c
			}
			return err
		})
		return h, err
	}
	a, sink, results := lbAgent(t, lb, &logs, WithOpener(open), WithInterfaceLookup(lookup))
	// The frames go out of the host's end, into the namespace.
	sender, err := netns.NewSender(p.HostIndex)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	ss := sendSeq(sender, seqFrame(p.PeerMAC, p.HostMAC, p, false), 0, 3000, 20000)
	defer ss.end(t)
	if !testenv.WaitFor(5*time.Second, func() bool {
		st := lb.Status()
		return len(st) == 2 && st[0].Packets >= 500 && st[1].Packets >= 500
	}) {
		t.Fatalf("rings %+v", lb.Status())
	}

	if _, err := a.Submit(context.Background(), []byte(`{"node":"any","interface":["any"],"bpf":"udp and src port 4000","lookback":60,"duration":1}`), "test"); err != nil {
		t.Fatal(err)
	}
	r := awaitResult(t, results)
	if r.Status != StatusOK || r.LookbackPackets == nil || *r.LookbackPackets == 0 || *r.LookbackPackets >= r.Packets {
		t.Fatalf("any: result %+v\n%s", r, logs.String())
	}
	_, data := sink.captures()
	seqs, times := seqsOf(t, data[0], true)
	checkRun(t, seqs, times)

	msg := `{"node":"any","interface":["any","` + p.Peer + `"],"merge":true,"bpf":"udp and src port 4000","lookback":60,"duration":1}`
	if _, err := a.Submit(context.Background(), []byte(msg), "test"); err != nil {
		t.Fatal(err)
	}
	rs := []Result{awaitResult(t, results), awaitResult(t, results)}
	for _, r := range rs {
		if r.Status != StatusOK || r.LookbackPackets == nil || *r.LookbackPackets == 0 || *r.LookbackPackets >= r.Packets {
			t.Fatalf("merged: result %+v\n%s", r, logs.String())
		}
	}
	_, data = sink.captures()
	perIf := map[int][]uint32{}
	perTimes := map[int][]time.Time{}
	var all []time.Time
	forEachFrameNG(t, data[1], func(ifID int, d []byte, ts time.Time) {
		hl := 14
		if ifID == 0 {
			hl = 20 // "any": LINUX_SLL2
		}
		perIf[ifID] = append(perIf[ifID], binary.BigEndian.Uint32(d[hl+28:]))
		perTimes[ifID] = append(perTimes[ifID], ts)
		all = append(all, ts)
	})
	for id := range 2 {
		t.Logf("interface %d: %d frames", id, len(perIf[id]))
		checkRun(t, perIf[id], perTimes[id])
	}
	if !slices.IsSortedFunc(all, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Error("the merged file is out of time order")
	}
}
