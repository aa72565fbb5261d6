package capfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// The file formats, as the tests name them.
const (
	formatPcap   = "pcap"
	formatPcapNG = "pcapng"
)

// testPacket is one frame to write: its time (ns since the epoch), its
// bytes and its length on the wire.
type testPacket struct {
	Timestamp int64
	Data      []byte
	Length    int
}

// fileWriter is what PcapWriter and PcapngWriter have in common.
type fileWriter interface {
	Packet(ts int64, data []byte, wire int)
	Finish(st Stats)
}

// testFrame returns an Ethernet/IPv4/UDP frame of n bytes (n >= 42) from
// 198.18.0.1:port to 198.18.0.2:9.
func testFrame(n int, port uint16) []byte {
	payload := make([]byte, n-42)
	for i := range payload {
		payload[i] = byte((42 + i) * 7)
	}
	return testenv.UDPFrame(net.HardwareAddr{0x02, 0, 0, 0, 0, 2}, net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
		netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), port, 9, payload)
}

// testPackets returns n frames of assorted sizes with nanosecond timestamps.
func testPackets(n int) []testPacket {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).UnixNano()
	out := make([]testPacket, n)
	for i := range out {
		size := 42 + r.IntN(1500)
		d := testFrame(size, uint16(1000+i))
		out[i] = testPacket{Timestamp: base + int64(i)*1_000_003, Data: d, Length: size + r.IntN(3)*100}
	}
	return out
}

// writeFile writes pkts in format through a buffer with small chunks.
func writeFile(t testing.TB, format string, chunk, snaplen int, pkts []testPacket) (*Buffer, *Data) {
	pool := NewChunkPool(chunk, 4)
	buf := NewBuffer(pool)
	var w fileWriter
	if format == formatPcapNG {
		w = NewPcapngWriter(buf, 1, snaplen, "veth0")
	} else {
		w = NewPcapWriter(buf, 1, snaplen)
	}
	for i := range pkts {
		w.Packet(pkts[i].Timestamp, pkts[i].Data, pkts[i].Length)
	}
	w.Finish(Stats{Start: time.Unix(1, 0), End: time.Unix(2, 0), Received: 7, Drops: 3, Delivered: uint64(len(pkts)), KernelKnown: true})
	return buf, buf.Data()
}

type readPacket struct {
	ts      time.Time
	capLen  int
	wireLen int
	data    []byte
}

func readBack(t *testing.T, format string, r io.Reader) ([]readPacket, uint32) {
	t.Helper()
	var out []readPacket
	var lt uint32
	if format == formatPcapNG {
		ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		lt = uint32(ng.LinkType())
		if ifc, err := ng.Interface(0); err != nil || ifc.Name != "veth0" {
			t.Errorf("interface 0 = %+v, %v; want name veth0", ifc, err)
		}
		for {
			d, ci, err := ng.ReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, readPacket{ci.Timestamp, ci.CaptureLength, ci.Length, d})
		}
		return out, lt
	}
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	// (pcapgo v1.1.19's Resolution() is inverted; the timestamps compared
	// by the caller prove the nanosecond magic is honoured.)
	lt = uint32(pr.LinkType())
	for {
		d, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, readPacket{ci.Timestamp, ci.CaptureLength, ci.Length, d})
	}
	return out, lt
}

func TestBufferReadBack(t *testing.T) {
	pkts := testPackets(300)
	for _, format := range []string{formatPcap, formatPcapNG} {
		for _, tc := range []struct {
			chunk, snaplen int
		}{{64, 262144}, {1000, 262144}, {1 << 20, 262144}, {333, 100}, {HugePageSize, 262144}} {
			t.Run(fmt.Sprintf("%s/chunk%d/snap%d", format, tc.chunk, tc.snaplen), func(t *testing.T) {
				_, data := writeFile(t, format, tc.chunk, tc.snaplen, pkts)
				got, lt := readBack(t, format, data.NewReader())
				if lt != 1 {
					t.Errorf("link type = %d, want 1", lt)
				}
				if len(got) != len(pkts) {
					t.Fatalf("read %d packets, wrote %d", len(got), len(pkts))
				}
				for i, p := range pkts {
					wantCap := min(len(p.Data), tc.snaplen)
					g := got[i]
					if !g.ts.Equal(time.Unix(0, p.Timestamp)) || g.capLen != wantCap || g.wireLen != p.Length ||
						!bytes.Equal(g.data, p.Data[:wantCap]) {
						t.Fatalf("packet %d: got ts %v cap %d wire %d, want ts %v cap %d wire %d (data equal %v)",
							i, g.ts, g.capLen, g.wireLen, time.Unix(0, p.Timestamp), wantCap, p.Length,
							bytes.Equal(g.data, p.Data[:wantCap]))
					}
				}
			})
		}
	}
}

func TestPcapHeader(t *testing.T) {
	_, data := writeFile(t, formatPcap, 128, 1500, nil)
	h := make([]byte, 24)
	if _, err := io.ReadFull(data.NewReader(), h); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xdc, 0x05, 0, 0, 1, 0, 0, 0}
	if !bytes.Equal(h, want) || data.Len() != 24 {
		t.Errorf("header = % x (file %d bytes), want % x (24 bytes)", h, data.Len(), want)
	}
}

func TestPcapngStatistics(t *testing.T) {
	_, data := writeFile(t, formatPcapNG, 128, 262144, testPackets(3))
	b, _ := io.ReadAll(data.NewReader())
	// Walk the blocks to the last one.
	var last []byte
	for off := 0; off < len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || off+n > len(b) || binary.LittleEndian.Uint32(b[off+n-4:]) != uint32(n) {
			t.Fatalf("bad block at %d (length %d)", off, n)
		}
		last = b[off : off+n]
		off += n
	}
	if typ := binary.LittleEndian.Uint32(last); typ != ngISB {
		t.Fatalf("last block type %#x, want ISB", typ)
	}
	opts := map[uint16]uint64{}
	for o := 20; o+4 <= len(last)-4; {
		code, n := binary.LittleEndian.Uint16(last[o:]), int(binary.LittleEndian.Uint16(last[o+2:]))
		if code == 0 {
			break
		}
		if n == 8 {
			opts[code] = binary.LittleEndian.Uint64(last[o+4:])
		}
		o += 4 + (n+3)&^3
	}
	if opts[ngOptOSDrop] != 3 || opts[ngOptFilterAcc] != 7 || opts[ngOptUsrDeliv] != 3 {
		t.Errorf("ISB options = %v, want osdrop 3, filteraccept 7, usrdeliv 3", opts)
	}
}

// TestTcpdumpReads reads both formats with the real tcpdump.
func TestTcpdumpReads(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		testenv.Skip(t, "tcpdump not installed")
	}
	pkts := testPackets(50)
	for _, format := range []string{formatPcap, formatPcapNG} {
		t.Run(format, func(t *testing.T) {
			_, data := writeFile(t, format, 512, 262144, pkts)
			path := filepath.Join(t.TempDir(), "f."+format)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := data.NewReader().(io.WriterTo).WriteTo(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
			out, err := exec.Command(tcpdump, "-r", path, "-nn", "--time-stamp-precision=nano", "-tt").CombinedOutput()
			if err != nil {
				t.Fatalf("tcpdump -r: %v\n%s", err, out)
			}
			var lines []string
			for l := range strings.Lines(string(out)) {
				if strings.HasPrefix(l, "reading from") {
					if !strings.Contains(l, "link-type EN10MB") {
						t.Errorf("tcpdump: %q, want link-type EN10MB", l)
					}
					continue
				}
				lines = append(lines, l)
			}
			if len(lines) != len(pkts) {
				t.Fatalf("tcpdump printed %d packets, want %d:\n%s", len(lines), len(pkts), out)
			}
			for i, l := range lines {
				ts := time.Unix(0, pkts[i].Timestamp)
				want := fmt.Sprintf("%d.%09d IP 198.18.0.1.%d > 198.18.0.2.9: UDP", ts.Unix(), ts.Nanosecond(), 1000+i)
				if !strings.HasPrefix(l, want) {
					t.Fatalf("line %d = %q, want prefix %q", i, l, want)
				}
			}
		})
	}
}

func TestBufferReader(t *testing.T) {
	buf, data := writeFile(t, formatPcap, 100, 262144, testPackets(20))
	defer buf.Release()
	all, err := io.ReadAll(data.NewReader())
	if err != nil || int64(len(all)) != data.Len() {
		t.Fatalf("ReadAll: %d bytes, %v; want %d", len(all), err, data.Len())
	}
	r := data.NewReader()
	ra := r.(io.ReaderAt)
	for _, off := range []int64{0, 1, 99, 100, 101, 555, data.Len() - 1} {
		p := make([]byte, 150)
		n, err := ra.ReadAt(p, off)
		want := all[off:min(int64(len(all)), off+150)]
		if n != len(want) || !bytes.Equal(p[:n], want) {
			t.Errorf("ReadAt(%d) = %d bytes, want %d", off, n, len(want))
		}
		if n < len(p) && err != io.EOF {
			t.Errorf("short ReadAt(%d) error = %v, want io.EOF", off, err)
		}
	}
	if pos, err := r.Seek(-10, io.SeekEnd); err != nil || pos != data.Len()-10 {
		t.Fatalf("Seek = %d, %v", pos, err)
	}
	var sb bytes.Buffer
	n, err := r.(io.WriterTo).WriteTo(&sb)
	if err != nil || n != 10 || !bytes.Equal(sb.Bytes(), all[len(all)-10:]) {
		t.Errorf("WriteTo after Seek: %d, %v", n, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to a negative position succeeded")
	}
	if n, err := r.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Errorf("Read at end = %d, %v; want 0, EOF", n, err)
	}
}

// TestChunksRecycled checks that a released buffer's chunks are reused.
func TestChunksRecycled(t *testing.T) {
	pool := NewChunkPool(256, 8)
	b := NewBuffer(pool)
	b.write(make([]byte, 1000))
	first := &b.chunks[0][0]
	b.Release()
	if len(pool.free) != 4 {
		t.Fatalf("pool holds %d chunks, want 4", len(pool.free))
	}
	b2 := NewBuffer(pool)
	b2.write([]byte{1})
	found := false
	for _, c := range pool.free {
		found = found || &c[0] == first
	}
	if !found && &b2.chunks[0][0] != first {
		t.Error("released chunk not reused")
	}
	big := NewBuffer(pool)
	big.write(make([]byte, 256*20))
	big.Release()
	if len(pool.free) > 8 {
		t.Errorf("pool keeps %d idle chunks, limit 8", len(pool.free))
	}
}

func TestPerPacketAllocs(t *testing.T) {
	pkts := testPackets(64)
	for _, format := range []string{formatPcap, formatPcapNG} {
		t.Run(format, func(t *testing.T) {
			pool := NewChunkPool(1<<20, 64)
			pool.put([][]byte{make([]byte, 1<<20), make([]byte, 1<<20)})
			buf := NewBuffer(pool)
			var w fileWriter
			if format == formatPcapNG {
				w = NewPcapngWriter(buf, 1, 262144, "eth0")
			} else {
				w = NewPcapWriter(buf, 1, 262144)
			}
			i := 0
			allocs := testing.AllocsPerRun(1000, func() {
				p := &pkts[i%len(pkts)]
				w.Packet(p.Timestamp, p.Data, p.Length)
				i++
			})
			if allocs != 0 {
				t.Errorf("%v allocations per packet, want 0", allocs)
			}
		})
	}
}

func BenchmarkBufferPacket(b *testing.B) {
	pkts := testPackets(256)
	for _, format := range []string{formatPcap, formatPcapNG} {
		b.Run(format, func(b *testing.B) {
			pool := NewChunkPool(1<<20, 256)
			buf := NewBuffer(pool)
			var w fileWriter = NewPcapWriter(buf, 1, 262144)
			if format == formatPcapNG {
				w = NewPcapngWriter(buf, 1, 262144, "eth0")
			}
			var bytes int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				p := &pkts[i%len(pkts)]
				w.Packet(p.Timestamp, p.Data, p.Length)
				bytes += int64(len(p.Data))
				if buf.Len() > 64<<20 { // recycle, as the agent does after delivery
					buf.Release()
					buf = NewBuffer(pool)
					if format == formatPcapNG {
						w = NewPcapngWriter(buf, 1, 262144, "eth0")
					} else {
						w = NewPcapWriter(buf, 1, 262144)
					}
				}
			}
			b.SetBytes(bytes / int64(b.N))
		})
	}
}
