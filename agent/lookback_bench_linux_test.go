//go:build linux

package agent

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/afpacket/afpackettest"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// BenchmarkLookbackServe serves a 10-second look-back out of a 64 MiB
// ring full of frames (all of it in the window), into a file part as a
// request's session does: every frame walked, run through the request's
// filter when it has one (which keeps a third of them), and copied into
// chunk memory. The goal is 100 ms per serve.
func BenchmarkLookbackServe(b *testing.B) {
	const held = 64 << 20
	for _, size := range []int{64, 1514} {
		for _, filter := range []string{"", "udp src port 1000"} {
			name := fmt.Sprintf("%dB", size)
			if filter != "" {
				name += "/filter"
			}
			b.Run(name, func(b *testing.B) {
				geo := geometryOf(LookbackConfig{Interface: "eth0", Bytes: held, Snaplen: size})
				per := (geo.blockSize - afpackettest.BlockHeaderLen) / afpackettest.Span(afpackettest.Frame{Data: make([]byte, size)})
				n := per * geo.held
				every := 10 * time.Second / time.Duration(n)
				fs := lbFrames(n, size, -10*time.Second, every)
				for i := range fs { // a third of the frames from the port the filter keeps
					binary.BigEndian.PutUint16(fs[i].Data[34:], uint16(1000+i%3))
				}
				m := newMemRing(b, geo.blockSize, geo.blocks, afpacket.LinkTypeEthernet, testBlocks(geo.blockSize, fs))
				m.geo = geo
				m.kernel.fill(len(m.kernel.blocks))
				if err := m.take(m.conn); err != nil {
					b.Fatal(err)
				}
				var vm *bpfcompile.VM
				if filter != "" {
					prog, err := bpfcompile.Compile(filter, bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet, Snaplen: 262144})
					if err != nil {
						b.Fatal(err)
					}
					if vm, err = bpfcompile.NewVM(prog); err != nil {
						b.Fatal(err)
					}
				}
				// No idle chunks kept: every serve writes into fresh
				// memory, as a daemon whose few idle chunks (8 by
				// default) are far fewer than 64 MiB does.
				pool := capfile.NewChunkPool(capfile.HugePageSize, 0)
				seam := lbBase.UnixNano()
				var frames int64
				b.ReportAllocs()
				b.SetBytes(int64(geo.held) * int64(geo.blockSize))
				b.ResetTimer()
				for range b.N {
					buf := capfile.NewBuffer(pool)
					w := capfile.NewPcapRecordWriter(buf, size)
					frames = 0
					part := m.serve(m.conn, &lookbackJob{
						seam: seam, from: seam - int64(10*time.Second), linkType: afpacket.LinkTypeEthernet, vm: vm,
						put: func(ts int64, data []byte, wire int) bool {
							w.Packet(ts, data, wire)
							frames++
							return true
						},
					})
					if part.err != nil || part.skipped != 0 {
						b.Fatalf("part %+v", part)
					}
					buf.Release()
				}
				b.ReportMetric(float64(frames), "frames/op")
				b.ReportMetric(float64(n), "ring-frames")
			})
		}
	}
}
