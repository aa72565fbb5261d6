//go:build linux

package agent

import (
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/afpacket/afpackettest"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// BenchmarkRingWriteOut measures the ring path's write-out, what follows
// the end of a capture of 300,000 frames held in 1 MiB blocks of a ring
// in memory: compacting the blocks into records (ringBuffer.finishStream)
// while the file is written with writev into /dev/null or into a file on
// tmpfs (/dev/shm), as `pcapdaemon capture -w` does. It reports the file's
// GB/s over the whole write-out.
func BenchmarkRingWriteOut(b *testing.B) {
	const (
		frames    = 300_000
		blockSize = 1 << 20
	)
	for _, size := range []int{60, 1514} {
		base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		fs := make([]afpackettest.Frame, frames)
		for i := range fs {
			ts := base.Add(time.Duration(i) * time.Microsecond)
			fs[i] = afpackettest.Frame{Data: testFrame(size, uint16(1000+i%1000)), Sec: uint32(ts.Unix()), Nsec: uint32(ts.Nanosecond()),
				Protocol: 0x0800, IfIndex: 2, HAType: 1, Addr: []byte{2, 0, 0, 0, 0, 1}}
		}
		blocks := testBlocks(blockSize, fs)
		mem := make([]byte, blockSize*len(blocks))
		for i, bf := range blocks {
			afpackettest.PutBlock(mem[i*blockSize:(i+1)*blockSize], uint64(i+1), bf)
		}
		img := append([]byte(nil), mem...)
		for _, dst := range []string{"/dev/null", "/dev/shm"} {
			b.Run(fmt.Sprintf("%dB/%s", size, dst), func(b *testing.B) {
				if _, err := os.Stat(dst); err != nil {
					b.Skip(err)
				}
				var n int64
				for b.Loop() {
					b.StopTimer()
					copy(mem, img)
					c, err := afpacket.NewMemConn(mem, afpacket.MemConfig{BlockSize: blockSize, NumBlocks: len(blocks), LinkType: afpacket.LinkTypeEthernet})
					if err != nil {
						b.Fatal(err)
					}
					header, rf, extra := ringLayout(FormatPcap, afpacket.LinkTypeEthernet, 262144, "eth0")
					rb := newRingBuffer(c, rf, extra, afpacket.Limits{}, capfile.NewChunkPool(capfile.HugePageSize, 0))
					if err := rb.take(); err != nil {
						b.Fatal(err)
					}
					var f *os.File
					if dst == "/dev/null" {
						f, err = os.OpenFile(dst, os.O_WRONLY, 0)
					} else {
						f, err = os.CreateTemp(dst, "writeout-*")
					}
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					file, wait := rb.finishStream(header, nil)
					k, err := io.Copy(f, file.Data().NewReader())
					if err != nil {
						b.Fatal(err)
					}
					wait()
					b.StopTimer()
					n = k
					file.Release()
					f.Close()
					if dst != "/dev/null" {
						os.Remove(f.Name())
					}
					b.StartTimer()
				}
				b.SetBytes(n)
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
