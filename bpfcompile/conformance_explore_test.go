package bpfcompile

import (
	"encoding/binary"

	"golang.org/x/net/bpf"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// The explorer makes packets that take the other side of the branches a
// program takes: it runs the program on a packet, remembers for every
// conditional jump which packet bytes (or which ancillary value, or the
// wire length) the compared value came from, and writes the bytes that flip
// the comparison into a copy. Repeated on the new packets, this reaches the
// addresses, ports and protocol values an expression names without knowing
// the expression, so ours and libpcap's programs are compared where they
// accept as well as where they reject.

// confProvKind says where a register value came from.
type confProvKind uint8

const (
	confProvNone  confProvKind = iota // computed, cannot be steered
	confProvPkt                       // packet bytes [off, off+size), masked
	confProvWire                      // the wire length
	confProvAnc                       // an ancillary value
	confProvConst                     // a constant of the program
)

type confProv struct {
	kind confProvKind
	off  uint32 // packet offset, or ancillary offset
	size uint32
	mask uint32
}

// confBranch is one conditional jump taken during a traced run.
type confBranch struct {
	p     confProv
	op    vmOp
	k     uint32
	value uint32
	taken bool
}

// confTrace runs raw on pkt like VM.Run and records the branches on values
// of known provenance, and returns a hash of the path taken (every branch
// and the result). It gives up on anything unusual; it only steers the
// search.
func confTrace(raw []bpf.RawInstruction, pkt confPacket, out []confBranch) ([]confBranch, uint64) {
	path := uint64(14695981039346656037)
	step := func(v uint64) { path = (path ^ v) * 1099511628211 }
	var (
		a, x   uint32
		pa, px confProv
		mem    [vmScratchWords]uint32
		pm     [vmScratchWords]confProv
	)
	data := pkt.data
	n := uint32(len(data))
	load := func(off uint64, size uint32) (uint32, bool) {
		if off+uint64(size) > uint64(n) {
			return 0, false
		}
		switch size {
		case 4:
			return binary.BigEndian.Uint32(data[off:]), true
		case 2:
			return uint32(binary.BigEndian.Uint16(data[off:])), true
		}
		return uint32(data[off]), true
	}
	full := func(size uint32) uint32 {
		if size == 4 {
			return 0xffffffff
		}
		return 1<<(8*size) - 1
	}
	for pc, steps := 0, 0; pc < len(raw) && steps < 10000; steps++ {
		r := raw[pc]
		pc++
		op := vmDecodeOp(r.Op)
		k := r.K
		switch op {
		case vmOpLdImm:
			a, pa = k, confProv{kind: confProvConst}
		case vmOpLdxImm:
			x, px = k, confProv{kind: confProvConst}
		case vmOpLdAbsW, vmOpLdAbsH, vmOpLdAbsB, vmOpLdIndW, vmOpLdIndH, vmOpLdIndB:
			size := uint32(4)
			switch op {
			case vmOpLdAbsH, vmOpLdIndH:
				size = 2
			case vmOpLdAbsB, vmOpLdIndB:
				size = 1
			}
			off := uint64(k)
			if op >= vmOpLdIndW {
				off += uint64(x)
			} else if isAncillary(k) {
				if k-cbpf.AncillaryBase == ancAluXorX {
					a, pa = a^x, confProv{}
					continue
				}
				v, ok := ancillaryValue(k-cbpf.AncillaryBase, pkt.meta, data, a, x)
				if !ok {
					return out, path
				}
				a, pa = v, confProv{kind: confProvAnc, off: k - cbpf.AncillaryBase, mask: 0xffffffff}
				continue
			}
			v, ok := load(off, size)
			if !ok {
				return out, path
			}
			a, pa = v, confProv{kind: confProvPkt, off: uint32(off), size: size, mask: full(size)}
		case vmOpLdLen:
			a, pa = uint32(pkt.wire), confProv{kind: confProvWire, mask: 0xffffffff}
		case vmOpLdxLen:
			x, px = uint32(pkt.wire), confProv{kind: confProvWire, mask: 0xffffffff}
		case vmOpLdMem:
			a, pa = mem[k%vmScratchWords], pm[k%vmScratchWords]
		case vmOpLdxMem:
			x, px = mem[k%vmScratchWords], pm[k%vmScratchWords]
		case vmOpSt:
			mem[k%vmScratchWords], pm[k%vmScratchWords] = a, pa
		case vmOpStx:
			mem[k%vmScratchWords], pm[k%vmScratchWords] = x, px
		case vmOpLdxMsh:
			if k >= n {
				return out, path
			}
			x, px = uint32(data[k]&0xf)<<2, confProv{}
		case vmOpAndK:
			a &= k
			pa.mask &= k
		case vmOpTax:
			x, px = a, pa
		case vmOpTxa:
			a, pa = x, px
		case vmOpJa:
			pc += int(int32(k))
		case vmOpJeqK, vmOpJgtK, vmOpJgeK, vmOpJsetK, vmOpJeqX, vmOpJgtX, vmOpJgeX, vmOpJsetX:
			kop, cmp, steer := op, k, pa.kind != confProvNone && pa.kind != confProvConst
			if op >= vmOpJeqX {
				// Against X: steerable when X is a constant of the program.
				kop, cmp = op-(vmOpJeqX-vmOpJeqK), x
				steer = steer && px.kind == confProvConst
			}
			var taken bool
			switch kop {
			case vmOpJeqK:
				taken = a == cmp
			case vmOpJgtK:
				taken = a > cmp
			case vmOpJgeK:
				taken = a >= cmp
			default:
				taken = a&cmp != 0
			}
			if steer {
				out = append(out, confBranch{p: pa, op: kop, k: cmp, value: a, taken: taken})
			}
			step(uint64(pc)<<1 | map[bool]uint64{true: 1}[taken])
			if taken {
				pc += int(r.Jt)
			} else {
				pc += int(r.Jf)
			}
		case vmOpRetK:
			step(uint64(k) << 20)
			return out, path
		case vmOpRetA:
			step(uint64(a) << 20)
			return out, path
		default:
			// Arithmetic: the value no longer maps to packet bytes.
			if (op == vmOpDivK || op == vmOpModK) && k == 0 || (op == vmOpDivX || op == vmOpModX) && x == 0 {
				return out, path
			}
			a, pa = confALU(op, a, x, k), confProv{}
		}
	}
	return out, path
}

// confALU applies one ALU instruction.
func confALU(op vmOp, a, x, k uint32) uint32 {
	src := k
	switch op {
	case vmOpAddX, vmOpSubX, vmOpMulX, vmOpDivX, vmOpModX, vmOpAndX, vmOpOrX, vmOpXorX, vmOpLshX, vmOpRshX:
		src = x
	}
	switch op {
	case vmOpAddK, vmOpAddX:
		return a + src
	case vmOpSubK, vmOpSubX:
		return a - src
	case vmOpMulK, vmOpMulX:
		return a * src
	case vmOpDivK, vmOpDivX:
		if src == 0 {
			return 0
		}
		return a / src
	case vmOpModK, vmOpModX:
		if src == 0 {
			return 0
		}
		return a % src
	case vmOpAndK, vmOpAndX:
		return a & src
	case vmOpOrK, vmOpOrX:
		return a | src
	case vmOpXorK, vmOpXorX:
		return a ^ src
	case vmOpLshK, vmOpLshX:
		return vmShl(a, src)
	case vmOpRshK, vmOpRshX:
		return vmShr(a, src)
	case vmOpNeg:
		return -a
	}
	return a
}

// confFlipValues returns values for the compared register that sit on both
// sides of the comparison of b at its boundary (k and k+1 for jgt, a single
// bit and none for jset, ...), keeping the bits the mask clears. Values that
// flip the branch open new paths; the others catch off-by-one differences.
func confFlipValues(b confBranch) []uint32 {
	m := b.p.mask
	keep := b.value &^ m
	var out []uint32
	add := func(v uint32) {
		if v&^m == 0 && keep|v != b.value { // the comparison may need bits the mask clears
			out = append(out, keep|v)
		}
	}
	k := b.k
	switch b.op {
	case vmOpJeqK:
		add(k)
		if low := m & -m; low != 0 {
			add((k ^ low) & m)
		}
		add((k + 1) & m)
	case vmOpJgtK:
		add(k)
		if k != 0xffffffff {
			add(k + 1)
		}
	case vmOpJgeK:
		add(k)
		if k != 0 {
			add(k - 1)
		}
	case vmOpJsetK:
		add(b.value & m &^ k)
		add(b.value&m | k&m)
		add(b.value&m&^k | k&-k&m) // only the lowest bit tested
	}
	return out
}

// confFlipPackets returns copies of p with the value b compares set to each
// of confFlipValues.
func confFlipPackets(p confPacket, b confBranch) []confPacket {
	var out []confPacket
	for _, v := range confFlipValues(b) {
		if q, ok := confSetValue(p, b, v); ok {
			out = append(out, q)
		}
	}
	return out
}

// confSetValue returns a copy of p in which the value b compares is v.
func confSetValue(p confPacket, b confBranch, v uint32) (confPacket, bool) {
	q := confPacket{data: p.data, wire: p.wire, meta: p.meta, origin: p.origin + " ~flip"}
	switch b.p.kind {
	case confProvPkt:
		size := b.p.size
		if size == 1 && v > 0xff || size == 2 && v > 0xffff {
			return confPacket{}, false
		}
		d := append([]byte(nil), p.data...)
		switch size {
		case 4:
			binary.BigEndian.PutUint32(d[b.p.off:], v)
		case 2:
			binary.BigEndian.PutUint16(d[b.p.off:], uint16(v))
		default:
			d[b.p.off] = byte(v)
		}
		q.data = d
	case confProvWire:
		if v > 1<<16 {
			return confPacket{}, false
		}
		q.wire = int(v)
		if q.wire < len(q.data) {
			q.data = q.data[:q.wire:q.wire]
		} else if q.wire > len(q.data) && q.wire <= 4096 && len(q.data) == p.wire {
			q.data = append(append([]byte(nil), p.data...), make([]byte, q.wire-len(p.data))...)
		}
	case confProvAnc:
		if p.meta == nil {
			return confPacket{}, false
		}
		m := *p.meta
		switch b.p.off {
		case ancProtocol:
			m.Protocol = uint16(v)
		case ancPktType:
			m.PktType = uint8(v)
		case ancIfIndex:
			m.IfIndex = v
		case ancHAType:
			m.HAType = uint16(v)
		case ancVLANTag:
			m.VLANTCI = uint16(v)
		case ancVLANTagPresent:
			m.VLANPresent = v != 0
		case ancVLANTPID:
			m.VLANTPID = uint16(v)
		case ancMark:
			m.Mark = v
		default:
			return confPacket{}, false
		}
		q.meta = &m
	default:
		return confPacket{}, false
	}
	return q, true
}

// confExplore returns up to limit new packets (not in known) around the
// branches of progs: it keeps the seeds that take a path no seed before
// took, then sets the value of every steerable branch of every kept packet
// to the boundary values of its comparison; the children that take a new
// path in some program are explored in turn.
func confExplore(progs [][]bpf.RawInstruction, seeds []confPacket, known map[string]bool, limit int) []confPacket {
	seenPath := map[[2]uint64]bool{}
	seenPkt := map[string]bool{}
	var recs []confBranch
	// newPath traces p in every program and marks its paths seen.
	newPath := func(p confPacket) bool {
		fresh := false
		for i, raw := range progs {
			_, h := confTrace(raw, p, nil)
			if k := [2]uint64{uint64(i), h}; !seenPath[k] {
				seenPath[k] = true
				fresh = true
			}
		}
		return fresh
	}
	var queue, made []confPacket
	for _, p := range seeds {
		if newPath(p) {
			queue = append(queue, p)
		}
	}
	for i := 0; i < len(queue) && len(made) < limit; i++ {
		for _, raw := range progs {
			recs, _ = confTrace(raw, queue[i], recs[:0])
			for _, b := range recs {
				for _, q := range confFlipPackets(queue[i], b) {
					k := q.key()
					if seenPkt[k] || known[k] {
						continue
					}
					seenPkt[k] = true
					// Every new packet is run; only those on a new path
					// are explored further.
					made = append(made, q)
					if newPath(q) {
						queue = append(queue, q)
					}
					if len(made) >= limit {
						return made
					}
				}
			}
		}
	}
	return made
}
