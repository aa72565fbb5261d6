//go:build linux

package agent

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// pathCase is a capture run twice at once on the same interface, on the
// ring path and on the copying path.
type pathCase struct {
	name   string
	spec   CaptureSpec // Interface, Filter, limits, Snaplen, Format
	ring   int64       // ring bytes; 0: sized from the limits
	ns     *netns.NS   // the interface's namespace (nil: the test's)
	send   func(t *testing.T)
	spills bool // the ring is too small for the capture: records are moved or spilled
	logs   testenv.SyncBuffer
}

// pathResult is what one of the two sessions produced.
type pathResult struct {
	out  outcome
	file []byte
	rb   bool // the ring path was taken
}

// runBoth runs pc on both paths at once: both sockets see the same frames
// with the same timestamps (the kernel stamps a frame once for all).
func runBoth(t *testing.T, pc *pathCase) (ringRes, copyRes pathResult) {
	t.Helper()
	open := func(name string, cfg afpacket.Config) (Handle, error) {
		var c *afpacket.Conn
		err := func() error {
			if pc.ns == nil {
				var err error
				c, err = afpacket.Open(name, cfg)
				return err
			}
			return pc.ns.Do(func() error {
				var err error
				c, err = afpacket.Open(name, cfg)
				return err
			})
		}()
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	lookup := LookupInterface
	if pc.ns != nil {
		lookup = func(name string) (info InterfaceInfo, err error) {
			err = pc.ns.Do(func() error { info, err = LookupInterface(name); return err })
			return info, err
		}
	}
	a := &Agent{log: slog.New(slog.NewTextHandler(&pc.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), clock: systemClock{}, open: open, lookup: lookup, compile: defaultCompiler,
		pool: capfile.NewChunkPool(DefaultChunkSize, 0)}
	cfg := Config{}.withDefaults()
	spec := pc.spec
	spec.Timeout, spec.Duration = 5*time.Second, 30*time.Second
	p, err := a.oncePlan(context.Background(), &cfg, &spec)
	if err != nil {
		t.Fatal(err)
	}
	ring := pc.ring
	if ring == 0 {
		ring = ringSize(DefaultRingBytes, maxRingBytes, p)
	}
	var (
		wg    sync.WaitGroup
		armed sync.WaitGroup
		res   [2]pathResult
	)
	armed.Add(2)
	for i := range 2 {
		s := &session{a: a, p: p, cp: p.captures[0], id: "diff", ring: ring, log: a.log, copying: i == 1, blockTimeout: 5 * time.Millisecond}
		wg.Go(func() {
			once := sync.OnceFunc(armed.Done)
			defer once() // a session that never armed
			res[i].out = s.capture(context.Background(), once)
			res[i].out.wait()
		})
	}
	armed.Wait()
	pc.send(t)
	wg.Wait()
	for i := range res {
		f := res[i].out.captured()
		if f == nil {
			t.Fatalf("session %d did not capture: %v", i, res[i].out.err)
		}
		b, err := io.ReadAll(f.Data().NewReader())
		if err != nil {
			t.Fatal(err)
		}
		res[i].file, res[i].rb = b, res[i].out.file != nil
		f.Release()
	}
	return res[0], res[1]
}

// withoutStats cuts a pcapng file's statistics block (its last block),
// which differs between two sockets: their times and kernel counters.
func withoutStats(b []byte, format string) []byte {
	if format != FormatPcapNG || len(b) < 4 {
		return b
	}
	n := int(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if n > len(b) {
		return b
	}
	return b[:len(b)-n]
}

// TestRingPathMatchesCopyingVeth captures real frames on both paths at
// once, on a veth pair, loopback and the cooked "any" of a namespace: the
// files are the same bytes (pcap and pcapng, VLAN tags put back, snap
// lengths, packet and byte limits, a ring much smaller than the capture),
// and so are the counts.
func TestRingPathMatchesCopyingVeth(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	src := pair.PeerMAC.String()
	// frames sends n frames of assorted sizes from the peer, every third
	// with a VLAN tag the kernel moves into the ring's metadata, in
	// bursts of burst frames, each after the previous one was read off
	// the wire: at most pace per second.
	frames := func(n, burst int, pace time.Duration) func(t *testing.T) {
		return func(t *testing.T) {
			var b [][]byte
			for i := range n {
				var tags [][2]uint16
				if i%3 == 0 {
					tags = [][2]uint16{{0x8100, uint16(i % 4000)}}
				}
				b = append(b, testenv.EtherFrame(pair.HostMAC, pair.PeerMAC, tags, 0x88b5, uint32(i), 60+(i*97)%1455))
				if len(b) == burst || i == n-1 {
					if err := pair.Send(b); err != nil {
						t.Fatal(err)
					}
					b = b[:0]
					time.Sleep(pace) // a sending rate, not a wait for the capture
				}
			}
		}
	}
	var lo, anyNS *netns.NS = netns.New(t), netns.New(t)
	datagrams := func(ns *netns.NS, n int) func(t *testing.T) {
		return func(t *testing.T) {
			err := ns.Do(func() error {
				rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}) // discard
				if err != nil {
					return err
				}
				defer rx.Close()
				tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
				if err != nil {
					return err
				}
				defer tx.Close()
				for i := range n {
					if _, err := tx.Write(bytes.Repeat([]byte{byte(i)}, 10+i*13%1400)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	mac := "ether src " + src
	cases := []pathCase{
		{name: "pcap, packets inside a block", spec: CaptureSpec{Interface: pair.Host, Filter: mac, Packets: 300}, send: frames(400, 400, 0)},
		{name: "pcapng, snap 100", spec: CaptureSpec{Interface: pair.Host, Filter: mac, Packets: 250, Snaplen: 100, Format: FormatPcapNG}, send: frames(300, 300, 0)},
		{name: "pcap, snap 14 cuts the tag", spec: CaptureSpec{Interface: pair.Host, Filter: mac, Packets: 50, Snaplen: 14}, send: frames(60, 60, 0)},
		{name: "pcap, bytes", spec: CaptureSpec{Interface: pair.Host, Filter: mac, Bytes: 100_000}, send: frames(300, 300, 0)},
		{name: "pcapng, bytes", spec: CaptureSpec{Interface: pair.Host, Filter: mac, Bytes: 100_000, Format: FormatPcapNG}, send: frames(300, 300, 0)},
		{name: "ring of 8 blocks, 20 MB", spec: CaptureSpec{Interface: pair.Host, Filter: mac, Packets: 26000}, ring: 8 << 20,
			send: frames(26000, 400, 25*time.Millisecond), spills: true},
		{name: "loopback", spec: CaptureSpec{Interface: "lo", Filter: "udp dst port 9", Packets: 40}, ns: lo, send: datagrams(lo, 40)},
		{name: "any (LINUX_SLL2)", spec: CaptureSpec{Interface: "any", Filter: "udp dst port 9", Packets: 40, Format: FormatPcapNG}, ns: anyNS, send: datagrams(anyNS, 40)},
	}
	for i := range cases {
		pc := &cases[i]
		t.Run(pc.name, func(t *testing.T) {
			if pc.ns != nil {
				if err := pc.ns.IP("link", "set", "lo", "up"); err != nil {
					t.Fatal(err)
				}
			}
			r, c := runBoth(t, pc)
			if !r.rb || c.rb {
				t.Fatalf("paths: ring %v, copying %v", r.rb, !c.rb)
			}
			rr, cr := r.out.res, c.out.res
			if rr.KernelDrops != 0 || cr.KernelDrops != 0 {
				t.Fatalf("kernel drops: ring path %d, copying path %d", rr.KernelDrops, cr.KernelDrops)
			}
			if rr.Packets != cr.Packets || rr.StopReason != cr.StopReason || rr.Status != StatusOK || rr.Packets == 0 {
				t.Errorf("ring path %d packets (%s, %s), copying path %d (%s)", rr.Packets, rr.StopReason, rr.Status, cr.Packets, cr.StopReason)
			}
			if rr.Bytes != uint64(len(r.file)) || cr.Bytes != uint64(len(c.file)) {
				t.Errorf("Result bytes %d and %d, files of %d and %d", rr.Bytes, cr.Bytes, len(r.file), len(c.file))
			}
			rf, cf := withoutStats(r.file, pc.spec.Format), withoutStats(c.file, pc.spec.Format)
			if !bytes.Equal(rf, cf) {
				i := 0
				for i < min(len(rf), len(cf)) && rf[i] == cf[i] {
					i++
				}
				t.Errorf("files differ from byte %d: ring path %d bytes, copying path %d", i, len(rf), len(cf))
			}
			if pc.spec.Bytes > 0 && rr.StopReason != StopBytes {
				t.Errorf("stopped by %s, want bytes", rr.StopReason)
			}
			if pc.spec.Packets > 0 && (rr.StopReason != StopPackets || rr.Packets != uint64(pc.spec.Packets)) {
				t.Errorf("stopped by %s after %d packets, want packets after %d", rr.StopReason, rr.Packets, pc.spec.Packets)
			}
			if pc.spills && !strings.Contains(pc.logs.String(), "ring ran short of free blocks") {
				t.Error("the small ring kept every block: the case does not wrap it")
			}
			t.Logf("%d packets, %d bytes", rr.Packets, rr.Bytes)
		})
	}
}
