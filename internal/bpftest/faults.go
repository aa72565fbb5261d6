package bpftest

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// Faults reports whether running raw on a packet ends the program early:
// a load past the captured bytes, a load of socket metadata the packet
// lacks, a division or modulus by zero. These are the runs on which
// libpcap's optimizer, and bpfcompile's, may change what a program
// returns (libpcap's drops loads whose value no test reads and moves tests
// of a value loaded already before loads that can fail); on every other
// run the optimized program returns what the input does.
//
// It also reports true, to be safe, for what it does not interpret:
// ancillary loads other than those Meta holds, backward jumps.
func Faults(raw []bpf.RawInstruction, pkt []byte, wire int, meta *Meta) bool {
	var a, x uint32
	var mem [16]uint32
	n := uint64(len(pkt))
	load := func(off uint64, size uint64) (uint32, bool) {
		if off+size > n {
			return 0, false
		}
		switch size {
		case 4:
			return binary.BigEndian.Uint32(pkt[off:]), true
		case 2:
			return uint32(binary.BigEndian.Uint16(pkt[off:])), true
		}
		return uint32(pkt[off]), true
	}
	for pc := 0; pc < len(raw); pc++ {
		ri := raw[pc]
		op, k := ri.Op, ri.K
		size := uint64(4)
		switch op & 0x18 {
		case sizeH:
			size = 2
		case sizeB:
			size = 1
		}
		switch op & 0x07 {
		case clsLD, clsLDX:
			var v uint32
			switch op & 0xe0 {
			case 0x00: // imm
				v = k
			case ModeABS:
				if k >= ancillaryBase {
					if meta == nil || op&0x07 != clsLD {
						return true
					}
					switch k - ancillaryBase {
					case 0:
						v = uint32(meta.Protocol)
					case 4:
						v = uint32(meta.PktType)
					case 8:
						v = meta.IfIndex
					case 44:
						v = uint32(meta.VLANTCI)
					case 48:
						if meta.VLANPresent {
							v = 1
						}
					case 60:
						v = uint32(meta.VLANTPID)
					default:
						return true
					}
					break
				}
				var ok bool
				if v, ok = load(uint64(k), size); !ok {
					return true
				}
			case ModeIND:
				var ok bool
				if v, ok = load(uint64(x)+uint64(k), size); !ok {
					return true
				}
			case 0x60: // mem
				v = mem[k&15]
			case 0x80: // len
				v = uint32(wire)
			case ModeMSH:
				b, ok := load(uint64(k), 1)
				if !ok {
					return true
				}
				v = (b & 0xf) << 2
			}
			if op&0x07 == clsLD {
				a = v
			} else {
				x = v
			}
		case 0x02: // st
			mem[k&15] = a
		case 0x03: // stx
			mem[k&15] = x
		case clsALU:
			b := k
			if op&srcX != 0 {
				b = x
			}
			switch op & 0xf0 {
			case 0x00:
				a += b
			case 0x10:
				a -= b
			case 0x20:
				a *= b
			case 0x30:
				if b == 0 {
					return true
				}
				a /= b
			case 0x90:
				if b == 0 {
					return true
				}
				a %= b
			case 0x40:
				a |= b
			case aluAND:
				a &= b
			case 0xa0:
				a ^= b
			case 0x60:
				if b >= 32 {
					a = 0
				} else {
					a <<= b
				}
			case 0x70:
				if b >= 32 {
					a = 0
				} else {
					a >>= b
				}
			case 0x80:
				a = -a
			}
		case clsJMP:
			if op&0xf0 == jmpJA {
				if int32(k) < 0 {
					return true
				}
				pc += int(k)
				continue
			}
			b := k
			if op&srcX != 0 {
				b = x
			}
			var cond bool
			switch op & 0xf0 {
			case 0x10:
				cond = a == b
			case 0x20:
				cond = a > b
			case 0x30:
				cond = a >= b
			default:
				cond = a&b != 0
			}
			if cond {
				pc += int(ri.Jt)
			} else {
				pc += int(ri.Jf)
			}
		case 0x06: // ret
			return false
		case 0x07: // tax, txa
			if op&0x80 == 0 {
				x = a
			} else {
				a = x
			}
		}
	}
	return true
}
