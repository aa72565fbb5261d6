//go:build linux

package afpacket_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// Next lends the same frames ReadPacket returns, in a Packet the Conn
// reuses: two sockets on one link see the same traffic, one read each way.
func TestNextMatchesReadPacket(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	var sent [][]byte
	for i := range 200 {
		sent = append(sent, frame(pair.HostMAC, pair.PeerMAC, nil, uint32(i), 60+(i*53)%1455))
	}
	cfg := afpacket.Config{Filter: etherTypeFilter(t, testEtherType, 262144)}
	byValue := open(t, pair.Host, cfg)
	byRef := open(t, pair.Host, cfg)
	if err := pair.Send(sent); err != nil {
		t.Fatal(err)
	}
	want := collect(t, byValue, len(sent), 500*time.Millisecond)
	if len(want) != len(sent) {
		t.Fatalf("ReadPacket got %d frames, sent %d", len(want), len(sent))
	}
	var lent *afpacket.Packet
	for i, w := range want {
		p, err := byRef.Next(context.Background(), time.Now().Add(500*time.Millisecond))
		if err != nil {
			t.Fatalf("Next, frame %d: %v", i, err)
		}
		if lent != nil && p != lent {
			t.Errorf("frame %d: Next returned a new Packet; want the Conn's one reused", i)
		}
		lent = p
		// Each socket stamps the frame when it queues it: close, not equal.
		if d := p.Timestamp - w.Timestamp; d < -int64(time.Second) || d > int64(time.Second) ||
			p.Length != w.Length || p.CaptureLength != w.CaptureLength ||
			p.IfIndex != w.IfIndex || p.PacketType != w.PacketType || p.Protocol != w.Protocol ||
			!bytes.Equal(p.Data, w.Data) {
			t.Fatalf("frame %d: Next = %+v, ReadPacket = %+v", i, *p, w)
		}
	}
	if _, err := byRef.Next(context.Background(), time.Now().Add(50*time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Next after the last frame: %v, want a deadline error", err)
	}
	// A frame costs no allocation.
	if err := pair.Send(sent[:150]); err != nil {
		t.Fatal(err)
	}
	var rerr error
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := byRef.Next(context.Background(), time.Now().Add(time.Second)); err != nil {
			rerr = err
		}
	})
	if rerr != nil {
		t.Fatal(rerr)
	}
	if allocs != 0 {
		t.Errorf("Next: %v allocations per frame, want 0", allocs)
	}
}
