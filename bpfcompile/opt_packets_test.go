package bpfcompile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// optPacket is one input for differential runs of programs.
type optPacket struct {
	data    []byte
	wireLen int
	meta    *Meta
}

var optRealPackets struct {
	sync.Once
	byDLT map[string][][]byte
	err   error
}

// optLoadRealPackets reads up to limit packets of each capture in the
// conformance corpus's packets/ directory, keyed by DLT name.
func optLoadRealPackets(tb testing.TB, limit int) map[string][][]byte {
	tb.Helper()
	dir := confPath(tb, "packets")
	optRealPackets.Do(func() {
		optRealPackets.byDLT = make(map[string][][]byte)
		for _, dlt := range []string{"EN10MB", "LINUX_SLL", "NULL", "IPV6", "RAW", "IPV4"} {
			f, err := os.Open(filepath.Join(dir, "tcpdump-"+dlt+".pcap"))
			if err != nil {
				optRealPackets.err = err
				return
			}
			r, err := pcapgo.NewReader(f)
			if err != nil {
				f.Close()
				optRealPackets.err = fmt.Errorf("%s: %w", f.Name(), err)
				return
			}
			var pkts [][]byte
			for len(pkts) < limit {
				data, _, err := r.ReadPacketData()
				if errors.Is(err, io.EOF) || err != nil {
					break
				}
				pkts = append(pkts, slices.Clone(data))
			}
			f.Close()
			optRealPackets.byDLT[dlt] = pkts
		}
	})
	if optRealPackets.err != nil {
		tb.Fatalf("tcpdump's captures: %v", optRealPackets.err)
	}
	return optRealPackets.byDLT
}

// optProbe is a place a program reads and a value it compares it with.
type optProbe struct {
	mode uint16 // optModeABS, optModeIND or optModeMSH
	size int
	off  uint32
	vals []uint32
}

// optProbes extracts from a program the loads it makes and the constants
// its branches compare them with, so that generated packets take the
// branches both ways.
func optProbes(rng *rand.Rand, raw []bpf.RawInstruction) []optProbe {
	type key struct {
		mode uint16
		size int
		off  uint32
	}
	idx := map[key]int{}
	var probes []optProbe
	var last *key
	var mask uint32 = 0xffffffff
	add := func(k key, v uint32) {
		i, ok := idx[k]
		if !ok {
			i = len(probes)
			idx[k] = i
			probes = append(probes, optProbe{mode: k.mode, size: k.size, off: k.off})
		}
		if !slices.Contains(probes[i].vals, v) {
			probes[i].vals = append(probes[i].vals, v)
		}
	}
	for _, ri := range raw {
		size := map[uint16]int{optSizeW: 4, optSizeH: 2, optSizeB: 1}[ri.Op&0x18]
		switch {
		case ri.Op&0x07 == optClsLD && (ri.Op&0xe0 == optModeABS || ri.Op&0xe0 == optModeIND):
			k := key{ri.Op & 0xe0, size, ri.K}
			last, mask = &k, 0xffffffff
			add(k, 0)
		case ri.Op == optClsLDX|optModeMSH|optSizeB:
			add(key{optModeMSH, 1, ri.K}, 0x45)
			add(key{optModeMSH, 1, ri.K}, 0x46)
			add(key{optModeMSH, 1, ri.K}, 0x60)
		case ri.Op&0x07 == optClsALU && ri.Op&0xf0 == optALUAnd && ri.Op&optSrcX == 0:
			mask &= ri.K
		case ri.Op&0x07 == optClsJMP && ri.Op&optSrcX == 0 && ri.Op&0xf0 != optJA && last != nil:
			for _, v := range []uint32{ri.K, ri.K + 1, ri.K - 1} {
				add(*last, v&mask|rng.Uint32()&^mask)
			}
		case ri.Op&0x07 == optClsLD || ri.Op&0x07 == optClsLDX:
			last = nil
		}
	}
	return probes
}

// optGenPackets builds n packets for a program: real ones and random ones,
// with the program's probed fields set to the values it compares them with,
// and truncated copies.
func optGenPackets(rng *rand.Rand, raw []bpf.RawInstruction, real [][]byte, ancillary bool, n int) []optPacket {
	probes := optProbes(rng, raw)
	maxEnd := 64
	for _, p := range probes {
		if p.mode == optModeABS && p.off < 4096 {
			maxEnd = max(maxEnd, int(p.off)+p.size)
		}
	}
	var out []optPacket
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
			optApplyProbes(rng, pkt, probes)
		}
		wire := len(pkt)
		if rng.IntN(4) == 0 && len(pkt) > 0 {
			cut := rng.IntN(len(pkt))
			if len(probes) > 0 && rng.IntN(2) == 0 {
				// Cut inside a field the program reads.
				if p := probes[rng.IntN(len(probes))]; p.mode == optModeABS && p.off < 4096 {
					cut = min(len(pkt), int(p.off)+rng.IntN(p.size+1))
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
				if p.mode == optModeABS && p.off >= ancillaryBase && len(p.vals) > 0 && rng.IntN(2) == 0 {
					v := p.vals[rng.IntN(len(p.vals))]
					switch p.off - ancillaryBase {
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
		out = append(out, optPacket{data: pkt, wireLen: wire, meta: meta})
	}
	return out
}

// optApplyProbes writes some of the probed values into pkt.
func optApplyProbes(rng *rand.Rand, pkt []byte, probes []optProbe) {
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
	pick := func(p optProbe) (uint32, bool) {
		if len(p.vals) == 0 || rng.IntN(3) == 0 {
			return 0, false
		}
		return p.vals[rng.IntN(len(p.vals))], true
	}
	var xs []int
	for _, p := range probes {
		if p.mode == optModeMSH {
			if v, ok := pick(p); ok {
				put(int(p.off), 1, v)
			}
			if int(p.off) < len(pkt) {
				xs = append(xs, 4*int(pkt[p.off]&0xf))
			}
		}
	}
	for _, p := range probes {
		if p.mode == optModeABS && p.off < ancillaryBase {
			if v, ok := pick(p); ok {
				put(int(p.off), p.size, v)
			}
		}
	}
	if len(xs) == 0 {
		xs = []int{0, 20}
	}
	for _, p := range probes {
		if p.mode == optModeIND {
			if v, ok := pick(p); ok {
				put(xs[rng.IntN(len(xs))]+int(p.off), p.size, v)
			}
		}
	}
}
