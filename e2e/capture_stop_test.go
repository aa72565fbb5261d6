package e2e

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestCaptureInterruptKeepsRingFrames: SIGINT right after frames reached
// the capture's ring leaves every one of them in the file (issue 12: the
// frames of the ring block the kernel was still filling were lost, unless
// a block timeout passed before the signal), read back by tcpdump: on the
// ring path (pcap, pcapng) and on the copying path ("-w -", streamed).
func TestCaptureInterruptKeepsRingFrames(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	const etherType, n = 0x88b6, 60
	for _, tc := range []struct{ name, format string }{{"pcap", "pcap"}, {"pcapng", "pcapng"}, {"streamed", "pcap"}} {
		t.Run(tc.name, func(t *testing.T) {
			format := tc.format
			file := filepath.Join(t.TempDir(), "f."+format)
			out := file
			if tc.name == "streamed" {
				out = "-"
			}
			r := startCapture(t, "-i", pair.Host, "--format", format, "-w", out, "ether proto 0x88b6")
			r.waitArmed(t)
			// A socket of the test's own, opened after the capture's: the
			// kernel hands each frame to the newest packet socket first and
			// to the capture's in the same pass, so a frame it read is in
			// the capture's ring.
			obs, err := afpacket.Open(pair.Host, afpacket.Config{BlockSize: 1 << 16, NumBlocks: 16, BlockTimeout: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu   sync.Mutex
				seen int
			)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					p, err := obs.ReadPacket(ctx, time.Time{})
					if err != nil {
						return
					}
					if len(p.Data) >= 14 && binary.BigEndian.Uint16(p.Data[12:]) == etherType {
						mu.Lock()
						seen++
						mu.Unlock()
					}
				}
			})
			defer func() { cancel(); wg.Wait(); _ = obs.Close() }()
			var frames [][]byte
			for i := range n {
				frames = append(frames, testenv.EtherFrame(pair.HostMAC, pair.PeerMAC, nil, etherType, uint32(i), 100))
			}
			if err := pair.Send(frames); err != nil {
				t.Fatal(err)
			}
			if !testenv.WaitFor(5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return seen == n }) {
				t.Fatalf("the test's socket saw %d of %d frames", seen, n)
			}
			if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			if st := r.wait(t, 10*time.Second); st != 0 {
				t.Fatalf("exit status %d, stderr %q", st, r.stderrLines())
			}
			checkCounters(t, r.stderrLines(), n)
			if out == "-" {
				if err := os.WriteFile(file, r.stdout.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// tcpdump prints the frames of an unknown EtherType with a hex
			// dump, in lines that start with a tab.
			var lines []string
			for _, l := range tcpdumpRead(t, file) {
				if !strings.HasPrefix(l, "\t") {
					lines = append(lines, l)
				}
			}
			if len(lines) != n {
				t.Errorf("tcpdump -r: %d packets, want %d", len(lines), n)
			}
			if got := fileSeqNumbers(t, file, format); !slices.Equal(got, seqs(n)) {
				t.Errorf("the file holds frames %v, want 0 to %d", got, n-1)
			}
		})
	}
}

// seqs returns 0, 1, ..., n-1.
func seqs(n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = uint32(i)
	}
	return s
}

// fileSeqNumbers returns the sequence numbers that testenv.EtherFrame put
// after the EtherType of each frame of a pcap or pcapng file.
func fileSeqNumbers(t *testing.T, file, format string) []uint32 {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var next func() ([]byte, error)
	if format == "pcapng" {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	}
	var out []uint32
	for {
		d, err := next()
		if err != nil {
			return out
		}
		if len(d) >= 18 {
			out = append(out, binary.BigEndian.Uint32(d[14:]))
		}
	}
}
