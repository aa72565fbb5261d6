package bpfcompile

import (
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/net/bpf"
)

// vmFuzzProgram decodes b as raw instructions, 8 bytes each (opcode, jt, jf,
// k, little-endian as struct sock_filter), at most 64 of them.
func vmFuzzProgram(b []byte) []bpf.RawInstruction {
	var raw []bpf.RawInstruction
	for len(b) >= 8 && len(raw) < 64 {
		raw = append(raw, bpf.RawInstruction{
			Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:]),
		})
		b = b[8:]
	}
	return raw
}

func vmFuzzEncode(raw []bpf.RawInstruction) []byte {
	var b []byte
	for _, r := range raw {
		b = binary.LittleEndian.AppendUint16(b, r.Op)
		b = append(b, r.Jt, r.Jf)
		b = binary.LittleEndian.AppendUint32(b, r.K)
	}
	return b
}

// FuzzVM runs arbitrary programs: NewVM and Run never panic, every program
// Check accepts also loads in the VM, and where golang.org/x/net/bpf's VM
// runs the same program it returns the same result.
func FuzzVM(f *testing.F) {
	typical, _ := vmAssemble(vmTestProgram(f))
	f.Add(vmFuzzEncode(typical), vmTestPacket())
	loop, _ := vmAssemble(vmTestProtochain())
	f.Add(vmFuzzEncode(loop), make([]byte, 40))
	r := vmTestRand()
	for range 20 {
		f.Add(vmFuzzEncode(vmTestRandomProgram(r, 1+r.IntN(16), true)), vmTestPacket()[:r.IntN(54)])
	}
	meta := &Meta{Protocol: 0x800, VLANPresent: true, VLANTCI: 10, PktType: 4, IfIndex: 3}
	f.Fuzz(func(t *testing.T, progBytes, pkt []byte) {
		raw := vmFuzzProgram(progBytes)
		vm, err := newVMRaw(raw)
		if checkRaw(raw) == nil && err != nil {
			t.Fatalf("Check accepts, NewVM: %v", err)
		}
		if err != nil {
			return
		}
		got := vm.Run(pkt, len(pkt)+10, meta)
		vm.Run(pkt[:len(pkt)/2], len(pkt), nil)
		vm.Run(nil, 0, nil)
		if vm.NeedsMeta() {
			return
		}
		insns, ok := bpf.Disassemble(raw)
		if !ok || !vmTestSameRaw(insns, raw) {
			return
		}
		theirs, err := bpf.NewVM(insns)
		if err != nil {
			return
		}
		// x/net/bpf takes the wire length to be the packet's length.
		want, err := theirs.Run(pkt)
		if err != nil {
			return
		}
		if ours := vm.Run(pkt, len(pkt), meta); ours != uint32(want) {
			t.Fatalf("ours %d (with wire+10: %d), x/net/bpf %d:\n%s", ours, got, want, confListing(raw))
		}
	})
}

// FuzzCompileRun compiles arbitrary expressions: Compile never panics,
// returns a program exactly when it returns no error, every program passes
// the kernel's checker (or only loops backward, for protochain, and then
// runs in the VM), and running it returns 0 or the snaplen.
func FuzzCompileRun(f *testing.F) {
	res, err := NewFileResolver(confPath(f, "fixtures"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"tcp port 80 and host 198.18.0.7", "vlan 20 and (icmp or ip6[40] == 128)", "ip6 protochain 6",
		"ether[0] & 1 != 0 or len > 100", "not (arp or rarp) && !udp", "port 80 or 443", "host 1.2.3.4 or 5.6.7.8",
		"net 10 and src net 192.168.0.0/16", "mpls 100 and pppoes 5", "geneve and vxlan", "ip[2:2] / 0 == 1",
		"tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "icmp6[icmp6type] == icmp6-echo", "inbound", "ifindex 3",
		"ether host eth-ipv4-ipv6.host123.libpcap.test", "llc i", "iso proto \\isis", "decnet src 1.2", "",
		"((((((((((ip))))))))))", "ip[1:3] = 4", "portrange 1-65535", "less 1 and greater 70000", "-1 == ip[0]",
	} {
		f.Add(s, uint8(0))
	}
	pkts := confSynthetic("EN10MB")
	f.Fuzz(func(t *testing.T, expr string, sel uint8) {
		lts := []LinkType{LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeNull, LinkTypeLoop, LinkTypeIPv4, LinkTypeIPv6}
		opts := Options{
			LinkType: lts[int(sel)%len(lts)], Snaplen: 1000, Netmask: 0xffffff00,
			Live: sel&0x10 != 0, NoOptimize: sel&0x20 != 0, Resolver: res,
		}
		prog, err := Compile(expr, opts)
		if (err == nil) != (len(prog) > 0) {
			t.Fatalf("Compile(%q) = %d instructions, error %v", expr, len(prog), err)
		}
		if err != nil {
			return
		}
		if cerr := Check(prog); cerr != nil && !errors.Is(cerr, ErrBackwardJump) {
			t.Fatalf("Compile(%q, %+v) fails the checker: %v", expr, opts, cerr)
		}
		vm, err := NewVM(prog)
		if err != nil {
			t.Fatalf("Compile(%q): NewVM: %v", expr, err)
		}
		meta := &Meta{VLANPresent: true, VLANTCI: 20}
		for i, p := range pkts {
			if i%7 != int(sel)%7 {
				continue
			}
			for _, d := range [][]byte{p.data, p.data[:len(p.data)/2]} {
				if v := vm.Run(d, p.wire, meta); v != 0 && v != 1000 {
					t.Fatalf("Compile(%q) returns %d on %s", expr, v, p.origin)
				}
			}
		}
	})
}
