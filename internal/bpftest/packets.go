package bpftest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/internal/conformance"
)

// Opcode fields the generator looks at (<linux/bpf_common.h>); a Probe's
// Mode is one of the Mode constants.
const (
	clsLD  = 0x00
	clsLDX = 0x01
	clsALU = 0x04
	clsJMP = 0x05
	sizeW  = 0x00
	sizeH  = 0x08
	sizeB  = 0x10
	aluAND = 0x50
	jmpJA  = 0x00
	srcX   = 0x08

	ModeABS = 0x20 // a load at k
	ModeIND = 0x40 // a load at X+k
	ModeMSH = 0xa0 // X = 4*(P[k]&0xf), the IPv4 header length
)

// Packet is one input for differential runs of programs: the captured
// bytes, the length the packet had on the wire, and the socket metadata
// that ancillary loads read (nil: none, as in a savefile).
type Packet struct {
	Data    []byte
	WireLen int
	Meta    *Meta
}

// Meta is the socket metadata of a generated packet: the fields of
// bpfcompile.Meta that libpcap's programs read. The tests copy it into
// bpfcompile.Meta (this package imports no part of bpfcompile, so that
// bpfcompile's own tests can use it).
type Meta struct {
	Protocol    uint16
	PktType     uint8
	IfIndex     uint32
	VLANTCI     uint16
	VLANPresent bool
	VLANTPID    uint16
}

// realLimit is the number of packets RealPackets reads of each capture.
const realLimit = 300

// loadRealPackets reads the captures once per test binary.
var loadRealPackets = sync.OnceValues(func() (map[string][][]byte, error) {
	dir, err := conformance.Path("packets")
	if err != nil {
		return nil, err
	}
	byDLT := make(map[string][][]byte)
	for _, dlt := range []string{"EN10MB", "LINUX_SLL", "NULL", "IPV6", "RAW", "IPV4"} {
		pkts, err := readPackets(filepath.Join(dir, "tcpdump-"+dlt+".pcap"), realLimit)
		if err != nil {
			return nil, err
		}
		byDLT[dlt] = pkts
	}
	return byDLT, nil
})

// readPackets reads up to limit packets of a pcap file (the classic
// format, either byte order, micro- or nanosecond stamps). A truncated last
// record ends the list.
func readPackets(name string, limit int) ([][]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, fmt.Errorf("%s: %w", name, errNotPcap)
	}
	var order binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: %w", name, errNotPcap)
	}
	var pkts [][]byte
	for off := 24; len(pkts) < limit && off+16 <= len(b); {
		caplen := int(order.Uint32(b[off+8:]))
		off += 16
		if caplen > len(b)-off {
			break
		}
		pkts = append(pkts, slices.Clone(b[off:off+caplen]))
		off += caplen
	}
	return pkts, nil
}

// errNotPcap is returned for a file that is not a classic pcap file.
var errNotPcap = errors.New("not a pcap file")

// RealPackets returns the first 300 packets of each of tcpdump's captures
// in the conformance corpus's packets/ directory, keyed by DLT name, or
// fails the test.
func RealPackets(tb testing.TB) map[string][][]byte {
	tb.Helper()
	byDLT, err := loadRealPackets()
	if err != nil {
		tb.Fatalf("tcpdump's captures: %v", err)
	}
	return byDLT
}

// Probe is a place a program reads and the values it compares it with.
type Probe struct {
	Mode uint16 // ModeABS, ModeIND or ModeMSH
	Size int    // bytes loaded
	Off  uint32 // k of the load
	Vals []uint32
}

// Probes extracts from a program the loads it makes and the constants
// its branches compare them with, so that generated packets take the
// branches both ways.
func Probes(rng *rand.Rand, raw []bpf.RawInstruction) []Probe {
	type key struct {
		mode uint16
		size int
		off  uint32
	}
	idx := map[key]int{}
	var probes []Probe
	var last *key
	var mask uint32 = 0xffffffff
	add := func(k key, v uint32) {
		i, ok := idx[k]
		if !ok {
			i = len(probes)
			idx[k] = i
			probes = append(probes, Probe{Mode: k.mode, Size: k.size, Off: k.off})
		}
		if !slices.Contains(probes[i].Vals, v) {
			probes[i].Vals = append(probes[i].Vals, v)
		}
	}
	for _, ri := range raw {
		size := map[uint16]int{sizeW: 4, sizeH: 2, sizeB: 1}[ri.Op&0x18]
		switch {
		case ri.Op&0x07 == clsLD && (ri.Op&0xe0 == ModeABS || ri.Op&0xe0 == ModeIND):
			k := key{ri.Op & 0xe0, size, ri.K}
			last, mask = &k, 0xffffffff
			add(k, 0)
		case ri.Op == clsLDX|ModeMSH|sizeB:
			add(key{ModeMSH, 1, ri.K}, 0x45)
			add(key{ModeMSH, 1, ri.K}, 0x46)
			add(key{ModeMSH, 1, ri.K}, 0x60)
		case ri.Op&0x07 == clsALU && ri.Op&0xf0 == aluAND && ri.Op&srcX == 0:
			mask &= ri.K
		case ri.Op&0x07 == clsJMP && ri.Op&srcX == 0 && ri.Op&0xf0 != jmpJA && last != nil:
			for _, v := range []uint32{ri.K, ri.K + 1, ri.K - 1} {
				add(*last, v&mask|rng.Uint32()&^mask)
			}
		case ri.Op&0x07 == clsLD || ri.Op&0x07 == clsLDX:
			last = nil
		}
	}
	return probes
}

// Packets builds n packets for a program: real ones and random ones,
// with the program's probed fields set to the values it compares them with,
// and truncated copies.
func Packets(rng *rand.Rand, raw []bpf.RawInstruction, real [][]byte, ancillary bool, n int) []Packet {
	probes := Probes(rng, raw)
	maxEnd := 64
	for _, p := range probes {
		if p.Mode == ModeABS && p.Off < 4096 {
			maxEnd = max(maxEnd, int(p.Off)+p.Size)
		}
	}
	var out []Packet
	for i := 0; i < n; i++ {
		var pkt []byte
		switch {
		case len(real) > 0 && i%4 == 0:
			pkt = slices.Clone(real[rng.IntN(len(real))])
		case len(real) > 0 && i%4 == 1:
			pkt = slices.Clone(real[rng.IntN(len(real))])
			if len(pkt) < maxEnd+80 {
				pkt = append(pkt, make([]byte, maxEnd+80-len(pkt))...)
			}
		default:
			pkt = make([]byte, maxEnd+80+rng.IntN(64))
			if i%3 == 0 {
				for j := range pkt {
					pkt[j] = byte(rng.UintN(256))
				}
			}
		}
		if i%4 != 0 {
			applyProbes(rng, pkt, probes)
		}
		wire := len(pkt)
		if rng.IntN(4) == 0 && len(pkt) > 0 {
			cut := rng.IntN(len(pkt))
			if len(probes) > 0 && rng.IntN(2) == 0 {
				// Cut inside a field the program reads.
				if p := probes[rng.IntN(len(probes))]; p.Mode == ModeABS && p.Off < 4096 {
					cut = min(len(pkt), int(p.Off)+rng.IntN(p.Size+1))
				}
			}
			pkt = pkt[:cut]
			if rng.IntN(2) == 0 {
				wire = len(pkt)
			}
		}
		var meta *Meta
		if ancillary && rng.IntN(4) != 0 {
			meta = &Meta{
				Protocol:    []uint16{0x800, 0x86dd, 0x806, 0x8100}[rng.IntN(4)],
				PktType:     uint8(rng.IntN(5)),
				IfIndex:     uint32(rng.IntN(4)),
				VLANPresent: rng.IntN(2) == 0,
				VLANTCI:     uint16(rng.IntN(8)) | uint16(rng.IntN(2))<<12,
				VLANTPID:    []uint16{0x8100, 0x88a8}[rng.IntN(2)],
			}
			for _, p := range probes {
				if p.Mode == ModeABS && p.Off >= ancillaryBase && len(p.Vals) > 0 && rng.IntN(2) == 0 {
					v := p.Vals[rng.IntN(len(p.Vals))]
					switch p.Off - ancillaryBase {
					case 0:
						meta.Protocol = uint16(v)
					case 4:
						meta.PktType = uint8(v)
					case 8:
						meta.IfIndex = v
					case 44:
						meta.VLANTCI = uint16(v)
					case 48:
						meta.VLANPresent = v != 0
					case 60:
						meta.VLANTPID = uint16(v)
					}
				}
			}
		}
		out = append(out, Packet{Data: pkt, WireLen: wire, Meta: meta})
	}
	return out
}

// applyProbes writes some of the probed values into pkt.
func applyProbes(rng *rand.Rand, pkt []byte, probes []Probe) {
	put := func(off int, size int, v uint32) {
		if off < 0 || off+size > len(pkt) {
			return
		}
		switch size {
		case 1:
			pkt[off] = byte(v)
		case 2:
			binary.BigEndian.PutUint16(pkt[off:], uint16(v))
		case 4:
			binary.BigEndian.PutUint32(pkt[off:], v)
		}
	}
	pick := func(p Probe) (uint32, bool) {
		if len(p.Vals) == 0 || rng.IntN(3) == 0 {
			return 0, false
		}
		return p.Vals[rng.IntN(len(p.Vals))], true
	}
	var xs []int
	for _, p := range probes {
		if p.Mode == ModeMSH {
			if v, ok := pick(p); ok {
				put(int(p.Off), 1, v)
			}
			if int(p.Off) < len(pkt) {
				xs = append(xs, 4*int(pkt[p.Off]&0xf))
			}
		}
	}
	for _, p := range probes {
		if p.Mode == ModeABS && p.Off < ancillaryBase {
			if v, ok := pick(p); ok {
				put(int(p.Off), p.Size, v)
			}
		}
	}
	if len(xs) == 0 {
		xs = []int{0, 20}
	}
	for _, p := range probes {
		if p.Mode == ModeIND {
			if v, ok := pick(p); ok {
				put(xs[rng.IntN(len(xs))]+int(p.Off), p.Size, v)
			}
		}
	}
}
