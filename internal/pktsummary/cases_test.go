package pktsummary

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/savefile"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// frame is one test frame: its captured bytes and its length on the wire
// (0: as captured).
type frame struct {
	name string
	data []byte
	wire int
}

// cut is f captured with a snap length of n.
func cut(f frame, n int) frame {
	if n >= len(f.data) {
		return f
	}
	w := f.wire
	if w == 0 {
		w = len(f.data)
	}
	return frame{name: f.name + "/snap" + itoa(n), data: f.data[:n], wire: w}
}

func itoa(n int) string { return strconv.Itoa(n) }

// ipFrames are the network-layer packets of the tests: a TCP connection
// (handshake, data both ways, SACK, FIN, RST), UDP, ICMP, IPv6 with
// extension headers and fragments, DNS.
func ipFrames() []frame {
	var fs []frame
	add := func(name string, b []byte) { fs = append(fs, frame{name: name, data: b}) }
	const isn, irs = 4000000000, 123456
	// A connection seen from its start.
	add("syn", ipv4(v4A, v4B, 6, 1, 0x4000, nil, tcp(40000, 8080, isn, 0, fSYN, 64240, synOpts(100, 0), nil)))
	add("synack", ipv4(v4B, v4A, 6, 0, 0x4000, nil, tcp(8080, 40000, irs, isn+1, fSYN|fACK, 65160, synOpts(200, 100), nil)))
	add("ack", ipv4(v4A, v4B, 6, 2, 0x4000, nil, tcp(40000, 8080, isn+1, irs+1, fACK, 502, tsOpts(101, 200), nil)))
	add("data", ipv4(v4A, v4B, 6, 3, 0x4000, nil, tcp(40000, 8080, isn+1, irs+1, fPSH|fACK, 502, tsOpts(102, 200), bytes.Repeat([]byte("x"), 100))))
	add("databack", ipv4(v4B, v4A, 6, 4, 0x4000, nil, tcp(8080, 40000, irs+1, isn+101, fPSH|fACK, 509, tsOpts(201, 102), bytes.Repeat([]byte("y"), 1448))))
	add("sack", ipv4(v4A, v4B, 6, 5, 0x4000, nil, tcp(40000, 8080, isn+101, irs+1, fACK, 501, sackOpts(irs+2897, irs+4345), nil)))
	add("fin", ipv4(v4A, v4B, 6, 6, 0x4000, nil, tcp(40000, 8080, isn+101, irs+1449, fFIN|fACK, 501, tsOpts(103, 201), nil)))
	add("finack", ipv4(v4B, v4A, 6, 5, 0x4000, nil, tcp(8080, 40000, irs+1449, isn+102, fFIN|fACK, 509, nil, nil)))
	add("lastack", ipv4(v4A, v4B, 6, 7, 0x4000, nil, tcp(40000, 8080, isn+102, irs+1450, fACK, 501, nil, nil)))
	// A connection seen from its middle, a reset, odd flags.
	add("mid", ipv4(v4A, v4B, 6, 8, 0, nil, tcp(40001, 22, 77, 99, fPSH|fACK, 1000, nil, []byte("hello"))))
	add("mid2", ipv4(v4B, v4A, 6, 9, 0, nil, tcp(22, 40001, 99, 82, fACK, 1000, nil, nil)))
	add("mid3", ipv4(v4A, v4B, 6, 10, 0, nil, tcp(40001, 22, 82, 99, fPSH|fACK, 1000, nil, []byte("again"))))
	add("rst", ipv4(v4B, v4A, 6, 0, 0, nil, tcp(9, 40002, 0, 555, fRST|fACK, 0, nil, nil)))
	add("rstonly", ipv4(v4B, v4A, 6, 0, 0, nil, tcp(9, 40003, 5, 0, fRST, 0, nil, nil)))
	add("flags", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40004, 9, 1, 2, fSYN|fECE|fCWR, 100, nil, nil)))
	add("urg", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40004, 9, 1, 2, fURG|fACK|fPSH, 100, nil, []byte("u"))))
	add("noflags", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40004, 9, 1, 2, 0, 100, nil, nil)))
	add("allflags", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40004, 9, 1, 2, 0xff, 100, nil, nil)))
	add("badopt", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40004, 9, 1, 2, fSYN, 100, []byte{2, 4, 5, 0xb4, 1, 20, 2, 0}, nil)))
	add("md5", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40004, 9, 1, 2, fSYN, 100, append([]byte{1, 1, 19, 18}, bytes.Repeat([]byte{0xab}, 16)...), nil)))
	add("http", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40005, 80, 1, 2, fPSH, 100, nil, []byte("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"))))
	add("httpresp", ipv4(v4B, v4A, 6, 0, 0, nil, tcp(80, 40005, 1, 2, fPSH, 100, nil, []byte("HTTP/1.1 200 OK\r\n\r\n"))))
	add("unkopt", ipv4(v4A, v4B, 6, 0, 0, nil, tcp(40004, 9, 1, 2, fSYN, 100, []byte{253, 6, 1, 2, 3, 4, 0, 0}, nil)))
	add("shorthdr", ipv4(v4A, v4B, 6, 0, 0, nil, []byte{0x9c, 0x44, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2, 0x40, 0x02, 0, 100, 0, 0, 0, 0}))
	// UDP, DNS.
	add("udp", ipv4(v4A, v4B, 17, 11, 0, nil, udp(40000, 9999, make([]byte, 32))))
	add("udpbad", ipv4(v4A, v4B, 17, 11, 0, nil, append(udp(40000, 9999, make([]byte, 4)), 0, 0))[:30])
	// ICMP.
	add("echo", ipv4(v4A, v4B, 1, 15, 0, nil, icmp(8, 0, 1<<16|1, make([]byte, 56))))
	add("echoreply", ipv4(v4B, v4A, 1, 16, 0, nil, icmp(0, 0, 1<<16|1, make([]byte, 56))))
	inner := ipv4(v4B, v4A, 17, 0, 0, nil, udp(40000, 33434, make([]byte, 4)))[:28]
	add("portunreach", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(3, 3, 0, inner)))
	add("hostunreach", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(3, 1, 0, inner)))
	add("netunreach", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(3, 0, 0, inner)))
	add("protounreach", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(3, 2, 0, inner)))
	add("needfrag", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(3, 4, 1400, inner)))
	add("adminprohib", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(3, 13, 0, inner)))
	add("timeexceeded", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(11, 0, 0, inner)))
	add("icmpother", ipv4(v4A, v4B, 1, 17, 0, nil, icmp(42, 0, 0, nil)))
	// IPv4 fragments, other protocols.
	add("frag1", ipv4(v4A, v4B, 17, 20, 0x2000, nil, udp(40000, 9999, make([]byte, 64))))
	add("frag2", ipv4(v4A, v4B, 17, 20, 9, nil, make([]byte, 40)))
	add("ipopts", ipv4(v4A, v4B, 17, 21, 0, []byte{1, 1, 1, 0}, udp(40000, 9999, nil)))
	add("proto253", ipv4(v4A, v4B, 253, 22, 0, nil, make([]byte, 12)))
	add("esp", ipv4(v4A, v4B, 50, 23, 0, nil, []byte{0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 9, 9, 9, 9}))
	// IPv6.
	add("v6syn", ipv6(v6A, v6B, 6, tcp(40000, 443, 1, 0, fSYN, 64800, synOpts(5, 0), nil)))
	add("v6synack", ipv6(v6B, v6A, 6, tcp(443, 40000, 1000, 2, fSYN|fACK, 64260, synOpts(6, 5), nil)))
	add("v6data", ipv6(v6A, v6B, 6, tcp(40000, 443, 2, 1001, fPSH|fACK, 507, tsOpts(7, 6), make([]byte, 517))))
	add("v6udp", ipv6(v6A, v6B, 17, udp(5000, 6000, make([]byte, 10))))
	add("v6echo", ipv6(v6A, v6B, 58, icmp(128, 0, 7<<16|3, make([]byte, 56))))
	add("v6echoreply", ipv6(v6B, v6A, 58, icmp(129, 0, 7<<16|3, make([]byte, 56))))
	ns := icmp(135, 0, 0, v6A.AsSlice())
	add("v6ns", ipv6(v6B, v6A, 58, ns))
	add("v6na", ipv6(v6A, v6B, 58, icmp(136, 0, 0x60000000, v6A.AsSlice())))
	add("v6rs", ipv6(v6B, v6A, 58, icmp(133, 0, 0, nil)))
	add("v6unreach", ipv6(v6A, v6B, 58, icmp(1, 4, 0, ipv6(v6B, v6A, 17, udp(1, 2, nil)))))
	add("v6hbh", ipv6(v6A, v6B, 0, ext6(58, icmp(143, 0, 1, make([]byte, 20)))))
	add("v6dst", ipv6(v6A, v6B, 60, ext6(17, udp(5000, 6000, make([]byte, 4)))))
	add("v6frag1", ipv6(v6A, v6B, 44, frag6(17, 0, true, 0xabcd, udp(5000, 6000, make([]byte, 40)))))
	add("v6frag2", ipv6(v6A, v6B, 44, frag6(17, 6, false, 0xabcd, make([]byte, 16))))
	add("v6none", ipv6(v6A, v6B, 59, nil))
	add("v6proto", ipv6(v6A, v6B, 253, make([]byte, 8)))
	add("badversion", []byte{0x35, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	return append(fs, dnsFrames()...)
}

// truncated is every frame of fs captured with the snap lengths that cut
// its headers.
func truncated(fs []frame, hdr int) []frame {
	var out []frame
	for _, f := range fs {
		all := strings.HasPrefix(f.name, "dns") // application messages: cut everywhere
		for n := 0; n < len(f.data) && (n <= hdr+90 || all); n++ {
			out = append(out, cut(f, n))
		}
	}
	return out
}

// linkFrames are the frames of the tests for one link type: the IP
// packets in its header, and what only that link layer carries.
func linkFrames(lt bpfcompile.LinkType) []frame {
	ips := ipFrames()
	var fs []frame
	wrap := func(f frame, hdr func(et uint16, b []byte) []byte) frame {
		et := uint16(0x0800)
		if f.data[0]>>4 == 6 {
			et = 0x86dd
		}
		return frame{name: f.name, data: hdr(et, f.data)}
	}
	var hdr func(et uint16, b []byte) []byte
	hlen := 0
	switch lt {
	case bpfcompile.LinkTypeEthernet:
		hdr = func(et uint16, b []byte) []byte { return pad(ether(macB, macA, et, b)) }
		hlen = 14
	case bpfcompile.LinkTypeLinuxSLL:
		hdr = func(et uint16, b []byte) []byte { return sllHeader(0, et, b) }
		hlen = 16
	case bpfcompile.LinkTypeLinuxSLL2:
		hdr = func(et uint16, b []byte) []byte { return sll2Header(et, 1, 4, b) }
		hlen = 20
	case bpfcompile.LinkTypeNull:
		hdr = func(et uint16, b []byte) []byte {
			af := uint32(2)
			if et == 0x86dd {
				af = 28 // FreeBSD's AF_INET6 (Linux's 10 is no IPv6 for tcpdump)
			}
			return append(binary.NativeEndian.AppendUint32(nil, af), b...)
		}
		hlen = 4
	case bpfcompile.LinkTypeLoop:
		hdr = func(et uint16, b []byte) []byte {
			af := uint32(2)
			if et == 0x86dd {
				af = 24
			}
			return append(binary.BigEndian.AppendUint32(nil, af), b...)
		}
		hlen = 4
	default: // RAW, IPV4, IPV6
		hdr = func(_ uint16, b []byte) []byte { return b }
		keep := ips[:0:0]
		for _, f := range ips {
			if lt == bpfcompile.LinkTypeIPv4 && f.data[0]>>4 != 4 || lt == bpfcompile.LinkTypeIPv6 && f.data[0]>>4 != 6 {
				continue
			}
			keep = append(keep, f)
		}
		ips = keep
	}
	for _, f := range ips {
		fs = append(fs, wrap(f, hdr))
	}
	// What the link layer itself carries.
	switch lt {
	case bpfcompile.LinkTypeEthernet:
		fs = append(fs,
			frame{name: "arpreq", data: pad(ether(bcast, macA, 0x0806, arp(1, macA, v4A, make([]byte, 6), v4B)))},
			frame{name: "arpreq-tha", data: pad(ether(macB, macA, 0x0806, arp(1, macA, v4A, macB, v4B)))},
			frame{name: "arpreply", data: pad(ether(macA, macB, 0x0806, arp(2, macB, v4B, macA, v4A)))},
			frame{name: "arp-unpadded", data: ether(macA, macB, 0x0806, arp(2, macB, v4B, macA, v4A))},
			frame{name: "rarp", data: pad(ether(bcast, macA, 0x8035, arp(3, macA, v4A, macA, v4A)))},
			frame{name: "vlan", data: pad(ether(macB, macA, 0x8100, vlanTag(0x8100, 0x2064, 0x0800, ipFrames()[3].data)[2:]))},
			frame{name: "qinq", data: pad(ether(macB, macA, 0x88a8, vlanTag(0x88a8, 0x000a, 0x8100, vlanTag(0x8100, 0x0014, 0x0800, ipFrames()[21].data)[2:])[2:]))},
			frame{name: "vlanarp", data: pad(ether(bcast, macA, 0x8100, vlanTag(0x8100, 5, 0x0806, arp(1, macA, v4A, make([]byte, 6), v4B))[2:]))},
			frame{name: "vlan-dei-unknown", data: pad(ether(macB, macA, 0x8100, vlanTag(0x8100, 0xf00f, 0x88b5, []byte{1, 2, 3})[2:]))},
			frame{name: "qinq-unknown", data: pad(ether(macB, macA, 0x88a8, vlanTag(0x88a8, 0x000a, 0x8100, vlanTag(0x8100, 0x0014, 0x9999, []byte{1, 2, 3})[2:])[2:]))},
			frame{name: "lldp", data: pad(ether(macB, macA, 0x88cc, []byte{2, 7, 4, 2, 0, 0, 0, 0, 10}))},
			frame{name: "unknown", data: pad(ether(macB, macA, 0x88b5, []byte{1, 2, 3}))},
		)
	case bpfcompile.LinkTypeLinuxSLL, bpfcompile.LinkTypeLinuxSLL2:
		h := func(et uint16, b []byte) []byte { return sllHeader(4, et, b) }
		if lt == bpfcompile.LinkTypeLinuxSLL2 {
			h = func(et uint16, b []byte) []byte { return sll2Header(et, 1, 0, b) }
			fs = append(fs, frame{name: "sll2-ifindex", data: sll2Header(0x0800, 1<<20, 1, ipFrames()[21].data)},
				frame{name: "sll2-types", data: sll2Header(0x0800, 1, 2, ipFrames()[21].data)},
				frame{name: "sll2-type3", data: sll2Header(0x0800, 1, 3, ipFrames()[21].data)},
				frame{name: "sll2-type9", data: sll2Header(0x0800, 1, 9, ipFrames()[21].data)})
		}
		for _, pt := range []uint16{0, 1, 2, 3, 4, 7} {
			d := sllHeader(pt, 0x88b5, []byte{1, 2, 3})
			if lt == bpfcompile.LinkTypeLinuxSLL2 {
				d = sll2Header(0x88b5, 1, byte(pt), []byte{1, 2, 3})
			}
			fs = append(fs, frame{name: "pkttype" + itoa(int(pt)), data: d})
		}
		fs = append(fs,
			frame{name: "arpreq", data: h(0x0806, arp(1, macA, v4A, make([]byte, 6), v4B))},
			frame{name: "vlan-unknown", data: h(0x8100, vlanTag(0x8100, 0x3005, 0x88b5, []byte{1, 2, 3})[2:])},
			frame{name: "arpreply", data: h(0x0806, arp(2, macB, v4B, macA, v4A))},
			frame{name: "vlan", data: h(0x8100, vlanTag(0x8100, 0x2064, 0x0800, ipFrames()[3].data)[2:])},
			frame{name: "unknown", data: h(0x88b5, []byte{1, 2, 3})},
		)
	case bpfcompile.LinkTypeNull:
		fs = append(fs, frame{name: "af10", data: append(binary.NativeEndian.AppendUint32(nil, 10), ipFrames()[44].data...)},
			frame{name: "af99", data: append(binary.NativeEndian.AppendUint32(nil, 99), 1, 2, 3)},
			frame{name: "af-swapped", data: append(binary.BigEndian.AppendUint32(nil, 24), ipFrames()[44].data...)})
	}
	return append(fs, truncated(fs, hlen)...)
}

var bcast = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// writePcap writes the frames into a pcap file of link type lt, one
// millisecond apart, and returns its path.
func writePcap(t testing.TB, lt bpfcompile.LinkType, fs []frame) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "frames.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := savefile.NewPcapWriter(f, uint32(lt), 262144)
	if err != nil {
		t.Fatal(err)
	}
	for i, fr := range fs {
		wire := fr.wire
		if wire == 0 {
			wire = len(fr.data)
		}
		if err := w.WritePacket(0, 1_700_000_000e9+int64(i)*1e6, fr.data, wire); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// tcpdumpLines runs tcpdump -r path with args and returns what it prints
// of each packet: a line, and the further lines of a hex dump (which
// start with a tab).
func tcpdumpLines(t testing.TB, path string, args ...string) []string {
	t.Helper()
	out := tcpdumpOutput(t, path, args...)
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSuffix(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "\t") && len(lines) > 0 {
			lines[len(lines)-1] += "\n" + l
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// tcpdumpOutput runs tcpdump -r path with args and returns its output.
func tcpdumpOutput(t testing.TB, path string, args ...string) []byte {
	t.Helper()
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		testenv.Skip(t, "tcpdump not installed: the lines are compared with its own")
	}
	cmd := exec.Command(tcpdump, append(append([]string{}, args...), "-r", path)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump %s -r %s: %v\n%s", strings.Join(args, " "), path, err, stderr.String())
	}
	return out
}
