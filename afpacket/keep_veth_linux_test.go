//go:build linux

package afpacket_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// pcapRecords is a pcap-like RecordFormat: a 16-byte head of time,
// captured and wire length.
var pcapRecords = afpacket.RecordFormat{Head: 16, Align: 1, Put: func(rec []byte, ts int64, n, wire int) {
	le := binary.LittleEndian
	le.PutUint64(rec[0:], uint64(ts))
	le.PutUint32(rec[8:], uint32(n))
	le.PutUint32(rec[12:], uint32(wire))
}}

// record is one record of pcapRecords read back.
type record struct {
	ts   int64
	data []byte
	wire int
}

// readRecords splits records of pcapRecords.
func readRecords(t testing.TB, run []byte) []record {
	t.Helper()
	var out []record
	for len(run) > 0 {
		if len(run) < 16 {
			t.Fatalf("%d bytes left after %d records", len(run), len(out))
		}
		n := int(binary.LittleEndian.Uint32(run[8:]))
		if 16+n > len(run) {
			t.Fatalf("record %d of %d bytes, %d left", len(out), n, len(run))
		}
		out = append(out, record{int64(binary.LittleEndian.Uint64(run)), bytes.Clone(run[16 : 16+n]), int(binary.LittleEndian.Uint32(run[12:]))})
		run = run[16+n:]
	}
	return out
}

// keeper reads a Conn by keeping its blocks, as a capture does.
type keeper struct {
	t      testing.TB
	c      *afpacket.Conn
	held   []afpacket.Block
	frames []record
	err    error
}

// take keeps what the kernel handed over and compacts it.
func (k *keeper) take() {
	got, err := k.c.Keep(nil)
	for _, b := range got {
		run, cnt := k.c.Compact(b, pcapRecords, afpacket.Limits{})
		if cnt.Frames != int64(b.Packets) {
			k.t.Errorf("block %d: compacted %d frames of %d", b.Seq, cnt.Frames, b.Packets)
		}
		k.frames = append(k.frames, readRecords(k.t, run)...)
	}
	k.held = append(k.held, got...)
	if err != nil {
		k.err = err
	}
}

// waitFrames keeps blocks until n frames arrived, for at most 5 seconds.
func (k *keeper) waitFrames(n int) bool {
	return testenv.WaitFor(5*time.Second, func() bool {
		k.take()
		return len(k.frames) >= n || k.err != nil
	})
}

// release gives back the n oldest blocks held.
func (k *keeper) release(n int) {
	k.c.Release(n)
	k.held = k.held[n:]
}

// TestKeepVeth keeps the blocks of a real ring of 4 small blocks while 60
// frames arrive in bursts, giving back the oldest as it goes: every frame
// comes out once, in order, byte for byte, with the sequence numbers of
// the blocks counting up across the ring's wrap.
func TestKeepVeth(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535),
		BlockSize: 4096, NumBlocks: 4, BlockTimeout: 2 * time.Millisecond})
	k := &keeper{t: t, c: c}
	var sent [][]byte
	for burst := range 12 {
		var b [][]byte
		for i := range 5 {
			b = append(b, frame(pair.HostMAC, pair.PeerMAC, [][2]uint16{{0x8100, uint16(burst)}}, uint32(len(sent)+i), 200+300*i))
		}
		if err := pair.Send(b); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, b...)
		if !k.waitFrames(len(sent)) {
			t.Fatalf("burst %d: %d frames of %d arrived (%v)", burst, len(k.frames), len(sent), k.err)
		}
		if len(k.held) > 1 {
			k.release(len(k.held) - 1) // the newest stays kept a while
		}
	}
	if k.err != nil {
		t.Fatal(k.err)
	}
	for i, r := range k.frames {
		if !bytes.Equal(r.data, sent[i]) || r.wire != len(sent[i]) {
			t.Fatalf("frame %d: %d bytes (wire %d), want the %d sent", i, len(r.data), r.wire, len(sent[i]))
		}
		if i > 0 && r.ts < k.frames[i-1].ts {
			t.Errorf("frame %d stamped before the one before", i)
		}
	}
	if len(k.frames) != len(sent) {
		t.Fatalf("%d frames, want %d", len(k.frames), len(sent))
	}
	if st, err := c.Stats(); err != nil || st.Drops != 0 {
		t.Errorf("Stats = %+v, %v: want no drops", st, err)
	}
}

// TestKeepFullRing fills the ring without giving anything back: the kernel
// drops and counts what does not fit, and goes on once the oldest block is
// released.
func TestKeepFullRing(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535),
		BlockSize: 4096, NumBlocks: 2, BlockTimeout: 2 * time.Millisecond})
	k := &keeper{t: t, c: c}
	var flood [][]byte
	for i := range 30 {
		flood = append(flood, frame(pair.HostMAC, pair.PeerMAC, nil, uint32(i), 1000))
	}
	if err := pair.Send(flood); err != nil {
		t.Fatal(err)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { k.take(); return c.Kept() == c.Blocks() }) {
		t.Fatalf("%d of %d blocks kept", c.Kept(), c.Blocks())
	}
	k.take()
	if len(k.frames) >= len(flood) {
		t.Fatalf("all %d frames fit two blocks of 4 KiB", len(k.frames))
	}
	st, err := c.Stats()
	if err != nil || st.Drops == 0 {
		t.Errorf("Stats = %+v, %v: want drops", st, err)
	}
	// Nothing new is handed over while the ring is full; after a release
	// the kernel fills the block given back.
	before := len(k.frames)
	k.release(1)
	late := frame(pair.HostMAC, pair.PeerMAC, nil, 999, 100)
	if err := pair.Send([][]byte{late}); err != nil {
		t.Fatal(err)
	}
	if !k.waitFrames(before + 1) {
		t.Fatalf("no frame after the release (%v)", k.err)
	}
	if got := k.frames[len(k.frames)-1].data; !bytes.Equal(got, late) {
		t.Errorf("the frame after the release is %x, want the one sent then", got)
	}
}

// TestKeepInterfaceRemoved removes the interface under a keeping reader:
// Keep hands over the blocks the ring still holds, then reports the loss;
// the kept blocks stay readable after Close, until Free.
func TestKeepInterfaceRemoved(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535),
		BlockTimeout: 100 * time.Millisecond})
	k := &keeper{t: t, c: c}
	var sent [][]byte
	for i := range 3 {
		sent = append(sent, frame(pair.HostMAC, pair.PeerMAC, nil, uint32(i), 80))
	}
	if err := pair.Send(sent); err != nil {
		t.Fatal(err)
	}
	// The frames are in the part-filled block the kernel fills.
	if !testenv.WaitFor(5*time.Second, func() bool { return c.Filling() == len(sent) }) {
		t.Fatalf("Filling = %d, want %d", c.Filling(), len(sent))
	}
	if out, err := exec.Command("ip", "link", "del", pair.Host).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v %s", err, out)
	}
	if !testenv.WaitFor(5*time.Second, func() bool { k.take(); return k.err != nil }) {
		t.Fatal("Keep did not report the interface's loss")
	}
	if !errors.Is(k.err, syscall.ENETDOWN) {
		t.Errorf("Keep = %v, want ENETDOWN", k.err)
	}
	if len(k.frames) != len(sent) {
		t.Fatalf("%d frames before the loss, want %d", len(k.frames), len(sent))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	blk := k.held[0]
	if blk.Packets != len(sent) {
		t.Fatalf("block of %d packets", blk.Packets)
	}
	if _, err := c.Keep(nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Keep after Close = %v, want net.ErrClosed", err)
	}
	if err := c.Free(); err != nil {
		t.Errorf("Free = %v", err)
	}
	if err := c.Free(); err != nil {
		t.Errorf("second Free = %v", err)
	}
}

// TestKeepCloseKeepsRecords: what Compact wrote stays readable after Close
// (a capture closes its socket before it delivers its file).
func TestKeepCloseKeepsRecords(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c, err := afpacket.Open(pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535), BlockTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Free()
	sent := [][]byte{frame(pair.HostMAC, pair.PeerMAC, nil, 1, 300), frame(pair.HostMAC, pair.PeerMAC, nil, 2, 400)}
	if err := pair.Send(sent); err != nil {
		t.Fatal(err)
	}
	var blocks []afpacket.Block
	n := 0
	if !testenv.WaitFor(5*time.Second, func() bool {
		got, err := c.Keep(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range got {
			n += b.Packets
		}
		blocks = append(blocks, got...)
		return n >= len(sent)
	}) {
		t.Fatal("the frames did not arrive")
	}
	var runs [][]byte
	for _, b := range blocks {
		run, _ := c.Compact(b, pcapRecords, afpacket.Limits{})
		runs = append(runs, run)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var got []record
	for _, r := range runs {
		got = append(got, readRecords(t, r)...)
	}
	if len(got) != 2 || !bytes.Equal(got[0].data, sent[0]) || !bytes.Equal(got[1].data, sent[1]) {
		t.Fatalf("after Close the records hold %d frames, want the 2 sent", len(got))
	}
}

// TestKeepAnyLoopbackOnce keeps the blocks of "any" while UDP datagrams
// cross loopback: the kernel queues each frame once (the program drops the
// outgoing copies), so the blocks' packet counts are exact.
func TestKeepAnyLoopbackOnce(t *testing.T) {
	testenv.RequireRoot(t)
	ns := netns.New(t)
	var (
		c      *afpacket.Conn
		rx, tx *net.UDPConn
	)
	err := ns.Do(func() error {
		var err error
		if c, err = afpacket.Open("any", afpacket.Config{BlockTimeout: time.Millisecond}); err != nil {
			return err
		}
		if rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return err
		}
		tx, err = net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close(); rx.Close(); tx.Close() }()
	if c.SkipsFrames() {
		t.Fatal("SkipsFrames on \"any\": the kernel should drop loopback's outgoing copies")
	}
	const n = 10
	for i := range n {
		fmt.Fprintf(tx, "pcapd-keep-%02d", i)
	}
	k := &keeper{t: t, c: c}
	seen := map[string]int{}
	testenv.WaitFor(5*time.Second, func() bool {
		k.take()
		clear(seen)
		for _, r := range k.frames {
			if i := bytes.Index(r.data, []byte("pcapd-keep-")); i >= 0 {
				seen[string(r.data[i:])]++
			}
		}
		return len(seen) == n
	})
	for i := range n {
		if key := fmt.Sprintf("pcapd-keep-%02d", i); seen[key] != 1 {
			t.Errorf("datagram %q seen %d times, want once", key, seen[key])
		}
	}
	pk := 0
	for _, b := range k.held {
		pk += b.Packets
	}
	if pk != len(k.frames) {
		t.Errorf("blocks count %d packets, hold %d frames", pk, len(k.frames))
	}
}

// TestKeepStop: after Stop the socket queues nothing more, at once, and
// what was kept stays.
func TestKeepStop(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	c := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535), BlockTimeout: time.Millisecond})
	k := &keeper{t: t, c: c}
	before := frame(pair.HostMAC, pair.PeerMAC, nil, 1, 200)
	if err := pair.Send([][]byte{before}); err != nil {
		t.Fatal(err)
	}
	if !k.waitFrames(1) {
		t.Fatalf("the frame did not arrive (%v)", k.err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	var after [][]byte
	for i := range 20 {
		after = append(after, frame(pair.HostMAC, pair.PeerMAC, nil, uint32(10+i), 200))
	}
	if err := pair.Send(after); err != nil {
		t.Fatal(err)
	}
	// A frame the socket still queued would be handed over within a few
	// block timeouts; wait for the marker frame of a second socket
	// instead of a fixed time.
	c2 := open(t, pair.Host, afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 65535), BlockTimeout: time.Millisecond})
	marker := frame(pair.HostMAC, pair.PeerMAC, nil, 99, 60)
	if err := pair.Send([][]byte{marker}); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, c2, 1, time.Second); len(got) != 1 {
		t.Fatal("the second socket saw no marker")
	}
	k.take()
	if c.Filling() != 0 || len(k.frames) != 1 || !bytes.Equal(k.frames[0].data, before) {
		t.Fatalf("after Stop: %d frames kept, %d filling; want only the one before", len(k.frames), c.Filling())
	}
	if _, err := c.Stats(); err != nil {
		t.Errorf("Stats after Stop: %v", err)
	}
}
