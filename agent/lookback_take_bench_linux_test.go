//go:build linux

package agent

import (
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// BenchmarkLookbackTake is the owner's per-block work: taking the blocks
// the kernel handed over (their descriptors), giving back as many of the
// oldest, and what it publishes, per block.
func BenchmarkLookbackTake(b *testing.B) {
	geo := geometryOf(LookbackConfig{Interface: "eth0", Bytes: 64 << 20})
	fs := lbFrames(200, 60, 0, time.Microsecond)
	m := newMemRing(b, geo.blockSize, geo.blocks, afpacket.LinkTypeEthernet, nil)
	m.geo = geo
	const perWake = 87
	one := testBlocks(geo.blockSize, fs)[0]
	fill := func() {
		m.kernel.blocks = m.kernel.blocks[:0]
		for range perWake {
			m.kernel.blocks = append(m.kernel.blocks, one)
		}
		m.kernel.fill(perWake)
	}
	round := func() {
		if err := m.take(m.conn); err != nil {
			b.Fatal(err)
		}
		m.trim(m.conn)
		m.publish()
	}
	for m.n < geo.held {
		fill()
		round()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		fill()
		b.StartTimer()
		round()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perWake, "ns/block")
}
