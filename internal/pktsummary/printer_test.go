package pktsummary

import (
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
// -nn prints, byte for byte, on every link type, with -S and -q too.
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

func linkName(lt bpfcompile.LinkType) string {
	return strings.ReplaceAll(lt.String(), " ", "_")
}
