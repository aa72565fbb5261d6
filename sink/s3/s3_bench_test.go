package s3

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/sinktest"
)

// vmHWM returns the process's peak resident set size (VmHWM) in bytes.
func vmHWM(t testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc/self/status")
	return 0
}

// TestUploadMemory100MB uploads a 100 MB capture and checks that the upload
// itself neither copies the buffer nor holds much memory: the bytes
// allocated during Deliver and the growth of the peak RSS stay far below
// the capture's size.
func TestUploadMemory100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB upload skipped in -short mode")
	}
	gw := sinktest.StartVersityGW(t)
	gw.MakeBucket(t, "captures")
	s := newTestSink(t, gw, gw.Endpoint, func(c *Config) { c.PartSize = DefaultPartSize })
	data := sinktest.Pcap(100<<20, 99)
	c := sinktest.Capture("mem100", data)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// Reset the peak RSS to the current RSS (buffer already resident).
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset VmHWM: %v", err)
	}
	hwm0 := vmHWM(t)
	if _, err := s.Deliver(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	hwm1 := vmHWM(t)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	growth := hwm1 - hwm0
	t.Logf("100 MB upload: %.1f MiB allocated during Deliver, peak RSS %.1f MiB (grew %.1f MiB over the resident buffer)",
		float64(alloc)/(1<<20), float64(hwm1)/(1<<20), float64(growth)/(1<<20))
	if alloc > 24<<20 {
		t.Errorf("Deliver allocated %d bytes for a %d-byte capture: the buffer is being copied", alloc, len(data))
	}
	if growth > 48<<20 {
		t.Errorf("peak RSS grew by %d bytes during the upload", growth)
	}
	if n := len(gw.GetObject(t, "captures", "pcaps/"+c.FileName).Body); n != len(data) {
		t.Errorf("object is %d bytes, want %d", n, len(data))
	}
}

// BenchmarkDeliver measures upload throughput from the in-memory buffer to
// a local versitygw (posix backend on the local disk).
func BenchmarkDeliver(b *testing.B) {
	gw := sinktest.StartVersityGW(b)
	gw.MakeBucket(b, "captures")
	for _, size := range []int{1 << 20, 16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			s := newTestSink(b, gw, gw.Endpoint, func(c *Config) { c.PartSize = DefaultPartSize })
			c := sinktest.Capture("bench", sinktest.Pcap(size, 5))
			b.SetBytes(c.Data.Len())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Deliver(context.Background(), c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
