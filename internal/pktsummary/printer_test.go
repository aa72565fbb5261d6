package pktsummary

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// hostNames names interfaces as the host does, as tcpdump does for
// LINUX_SLL2 headers.
func hostNames(i int) (string, bool) {
	ifc, err := net.InterfaceByIndex(i)
	if err != nil {
		return "", false
	}
	return ifc.Name, true
}

// lineTypes are the link types the printer decodes.
var lineTypes = []bpfcompile.LinkType{
	bpfcompile.LinkTypeEthernet, bpfcompile.LinkTypeLinuxSLL, bpfcompile.LinkTypeLinuxSLL2,
	bpfcompile.LinkTypeNull, bpfcompile.LinkTypeLoop, bpfcompile.LinkTypeRaw,
	bpfcompile.LinkTypeIPv4, bpfcompile.LinkTypeIPv6,
}

// TestLinesMatchTcpdump: the frames of the tests (a TCP connection, UDP,
// DNS, ICMP, ARP, VLAN, IPv6 with extension headers and fragments, each
// also cut at every length through its headers) give the line tcpdump
// -nn prints, byte for byte, on every link type, with -S, -q, -e and the
// dumps of -x, -xx, -X and -XX too.
func TestLinesMatchTcpdump(t *testing.T) {
	for _, lt := range lineTypes {
		fs := linkFrames(lt)
		path := writePcap(t, lt, fs)
		for _, v := range []struct {
			name string
			opts Options
			args []string
		}{
			{"", Options{}, nil},
			{"-S", Options{AbsoluteSeq: true}, []string{"-S"}},
			{"-q", Options{Quick: true}, []string{"-q"}},
			{"-e", Options{LinkHeader: true}, []string{"-e"}},
			{"-e-q", Options{LinkHeader: true, Quick: true}, []string{"-e", "-q"}},
			{"-x", Options{Dump: DumpHex}, []string{"-x"}},
			{"-xx", Options{Dump: DumpHex, DumpLinkHeader: true}, []string{"-xx"}},
			{"-X", Options{Dump: DumpHexASCII}, []string{"-X"}},
			{"-XX-e", Options{Dump: DumpHexASCII, DumpLinkHeader: true, LinkHeader: true}, []string{"-XX", "-e"}},
			{"-X-q", Options{Dump: DumpHexASCII, Quick: true}, []string{"-X", "-q"}},
		} {
			t.Run(linkName(lt)+v.name, func(t *testing.T) {
				want := tcpdumpLines(t, path, append([]string{"-nn", "-t"}, v.args...)...)
				if len(want) != len(fs) {
					t.Fatalf("tcpdump printed %d packets, the file has %d", len(want), len(fs))
				}
				p := NewPrinter(v.opts, hostNames)
				var buf []byte
				bad := 0
				for i, f := range fs {
					wire := f.wire
					if wire == 0 {
						wire = len(f.data)
					}
					buf = p.Append(buf[:0], uint32(lt), f.data, wire)
					if got := string(buf); got != want[i] {
						bad++
						if bad <= 15 {
							t.Errorf("%s (#%d):\n got %q\nwant %q", f.name, i, got, want[i])
						}
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d lines differ from tcpdump's", bad, len(fs))
				}
			})
		}
	}
}

// TestASCIIMatchesTcpdump: -A and -AA print what tcpdump prints, the
// bytes as text after each line (newlines in them included), on every
// link type.
func TestASCIIMatchesTcpdump(t *testing.T) {
	for _, lt := range lineTypes {
		fs := linkFrames(lt)
		path := writePcap(t, lt, fs)
		for _, v := range []struct {
			name string
			opts Options
			arg  string
		}{
			{"-A", Options{Dump: DumpASCII}, "-A"},
			{"-AA", Options{Dump: DumpASCII, DumpLinkHeader: true}, "-AA"},
		} {
			t.Run(linkName(lt)+v.name, func(t *testing.T) {
				want := tcpdumpOutput(t, path, "-nn", "-t", v.arg)
				p := NewPrinter(v.opts, hostNames)
				var got []byte
				for i, f := range fs {
					wire := f.wire
					if wire == 0 {
						wire = len(f.data)
					}
					n := len(got)
					got = append(p.Append(got, uint32(lt), f.data, wire), '\n')
					if !bytes.HasPrefix(want, got) {
						end := min(len(want), len(got)+40)
						t.Fatalf("%s (#%d): got %q\nwant %q", f.name, i, got[n:], want[n:end])
					}
				}
				if len(got) != len(want) {
					t.Errorf("tcpdump printed %d bytes more", len(want)-len(got))
				}
			})
		}
	}
}

func linkName(lt bpfcompile.LinkType) string {
	return strings.ReplaceAll(lt.String(), " ", "_")
}

// FuzzPrinter: any bytes of any link type give a line (empty where
// tcpdump's is: an undecoded payload of nothing) and no panic, with -q, -e
// and the dumps too, further lines only as a hex dump's (but for -A's
// text), and
// the printer reads only the captured bytes (the frame is a slice with no
// capacity past its end, which a read beyond would have to use).
func FuzzPrinter(f *testing.F) {
	for _, fr := range linkFrames(bpfcompile.LinkTypeEthernet)[:80] {
		f.Add(uint32(1), fr.data, uint16(len(fr.data)), false)
	}
	f.Add(uint32(276), sll2Header(0x86dd, 1, 0, ipFrames()[50].data), uint16(100), true)
	f.Add(uint32(101), ipFrames()[len(ipFrames())-1].data, uint16(9000), false)
	for _, fr := range dnsFrames() {
		f.Add(uint32(101), fr.data, uint16(len(fr.data)), false)
	}
	f.Fuzz(func(t *testing.T, lt uint32, b []byte, wire uint16, quick bool) {
		// -q with it, or else -e and a dump, chosen by the length.
		opts := Options{Quick: quick}
		if !quick {
			opts = Options{LinkHeader: wire%2 == 1, Dump: Dump(wire % 4), DumpLinkHeader: wire%8 >= 4}
		}
		p := NewPrinter(opts, hostNames)
		for _, l := range []uint32{lt, 0, 1, 101, 108, 113, 228, 229, 276} {
			b := b[:len(b):len(b)]
			// Twice: the second sees the TCP state the first left.
			for range 2 {
				line := p.Append(nil, l, b, int(wire))
				if i := bytes.IndexByte(line, '\n'); opts.Dump != DumpASCII && i >= 0 && (i+1 >= len(line) || line[i+1] != '\t') {
					t.Fatalf("link type %d: a further line that is no hex dump: %q", l, line)
				}
			}
		}
	})
}

// BenchmarkAppend is the printer's line of each frame of the tests on
// Ethernet (TCP, UDP, ICMP, DNS), appended into a reused buffer: as
// tcpdump -nn prints it, and with -e -X.
func BenchmarkAppend(b *testing.B) {
	fs := linkFrames(bpfcompile.LinkTypeEthernet)[:70]
	for _, f := range dnsFrames() {
		et := uint16(0x0800)
		if f.data[0]>>4 == 6 {
			et = 0x86dd
		}
		fs = append(fs, frame{data: pad(ether(macB, macA, et, f.data))})
	}
	for _, v := range []struct {
		name string
		opts Options
	}{
		{"nn", Options{}},
		{"eX", Options{LinkHeader: true, Dump: DumpHexASCII}},
	} {
		b.Run(v.name, func(b *testing.B) {
			p := NewPrinter(v.opts, hostNames)
			var buf []byte
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				f := fs[i%len(fs)]
				buf = p.Append(buf[:0], 1, f.data, len(f.data))
			}
		})
	}
}
