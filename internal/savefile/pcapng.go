package savefile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// pcapng block types and the section header's byte-order magic.
const (
	ngSHB     = 0x0a0d0d0a // section header (the same in both byte orders)
	ngIDB     = 1          // interface description
	ngPB      = 2          // packet (obsolete)
	ngSPB     = 3          // simple packet
	ngEPB     = 6          // enhanced packet
	ngBOMagic = 0x1a2b3c4d
)

// pcapng interface description options the reader uses.
const (
	optEnd      = 0
	optIfName   = 2
	optTSResol  = 9
	optTSOffset = 14
)

// tsres is an interface's timestamp resolution: 10^-exp or 2^-exp seconds.
type tsres struct {
	pow2 bool
	exp  uint8
}

// microseconds is pcapng's default resolution.
var microseconds = tsres{exp: 6}

// block is one pcapng block: its type, its body (between the length
// fields) and where it starts, for messages.
type block struct {
	typ  uint32
	body []byte
	at   int64
}

// openNG reads the first section header and the blocks up to the first
// interface description, as libpcap does when it opens a pcapng file.
func (rd *Reader) openNG(magic [4]byte) error {
	b, err := rd.readBlock(magic)
	if err != nil {
		return eofTruncated(err, "pcapng section header")
	}
	if err := rd.section(b); err != nil {
		return err
	}
	for len(rd.ifaces) == 0 {
		b, err := rd.readBlock([4]byte{})
		if errors.Is(err, io.EOF) {
			return errors.New("the capture file has no Interface Description Blocks")
		}
		if err != nil {
			return err
		}
		switch b.typ {
		case ngEPB, ngSPB, ngPB:
			return fmt.Errorf("block at offset %d: the capture file has a packet block before any Interface Description Blocks", b.at)
		case ngSHB:
			err = rd.section(b)
		case ngIDB:
			err = rd.addInterface(b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readBlock reads one block. typ, when not zero, is the block type
// already read (the file's magic). A section header sets the byte order.
func (rd *Reader) readBlock(typ [4]byte) (block, error) {
	at := rd.off
	var h [8]byte
	if typ == ([4]byte{}) {
		if err := rd.full(h[:4], "pcapng block header"); err != nil {
			return block{}, err
		}
	} else {
		copy(h[:4], typ[:])
		at -= 4
	}
	if err := rd.full(h[4:], fmt.Sprintf("block at offset %d", at)); err != nil {
		return block{}, eofTruncated(err, "pcapng block header")
	}
	t := binary.LittleEndian.Uint32(h[:]) // only compared with ngSHB before the order is known
	var bom [4]byte
	if t == ngSHB {
		if err := rd.full(bom[:], fmt.Sprintf("section header at offset %d", at)); err != nil {
			return block{}, eofTruncated(err, "pcapng section header")
		}
		switch uint32(ngBOMagic) {
		case binary.LittleEndian.Uint32(bom[:]):
			rd.bo = binary.LittleEndian
		case binary.BigEndian.Uint32(bom[:]):
			rd.bo = binary.BigEndian
		default:
			return block{}, fmt.Errorf("section header at offset %d: unknown byte-order magic %#x", at, bom)
		}
	}
	if rd.bo == nil {
		return block{}, fmt.Errorf("block at offset %d: no section header before it", at)
	}
	t = rd.bo.Uint32(h[:])
	n := rd.bo.Uint32(h[4:])
	minLen := uint32(12)
	if t == ngSHB {
		minLen = 28
	}
	switch {
	case n < minLen:
		return block{}, fmt.Errorf("block at offset %d: length %d is less than %d", at, n, minLen)
	case n%4 != 0:
		return block{}, fmt.Errorf("block at offset %d: length %d is not a multiple of 4", at, n)
	case n > maxBlock:
		return block{}, fmt.Errorf("block at offset %d: length %d is more than the maximum of %d", at, n, maxBlock)
	}
	body := rd.scratch(int(n) - 8) // the body and the trailing length
	start := 0
	if t == ngSHB {
		copy(body, bom[:])
		start = 4
	}
	if err := rd.full(body[start:], fmt.Sprintf("block at offset %d", at)); err != nil {
		return block{}, eofTruncated(err, fmt.Sprintf("block at offset %d", at))
	}
	if tail := rd.bo.Uint32(body[len(body)-4:]); tail != n {
		return block{}, fmt.Errorf("block at offset %d: block total length in header %d and trailer %d don't match", at, n, tail)
	}
	return block{typ: t, body: body[:len(body)-4], at: at}, nil
}

// section starts a new section: its interfaces are numbered from here.
func (rd *Reader) section(b block) error {
	if len(b.body) < 16 {
		return fmt.Errorf("section header at offset %d: too short", b.at)
	}
	major, minor := rd.bo.Uint16(b.body[4:]), rd.bo.Uint16(b.body[6:])
	// libpcap also takes 1.2, which some writers wrote by mistake.
	if major != 1 || (minor != 0 && minor != 2) {
		return fmt.Errorf("unsupported pcapng savefile version %d.%d", major, minor)
	}
	rd.base = len(rd.ifaces)
	return nil
}

// addInterface reads an interface description block.
func (rd *Reader) addInterface(b block) error {
	if len(b.body) < 8 {
		return fmt.Errorf("interface description at offset %d: too short", b.at)
	}
	ifc := Interface{LinkType: uint32(rd.bo.Uint16(b.body)), Snaplen: normSnaplen(rd.bo.Uint32(b.body[4:])),
		BigEndian: rd.bo == binary.BigEndian}
	res, off := microseconds, int64(0)
	opts := b.body[8:]
	for len(opts) >= 4 {
		code, n := rd.bo.Uint16(opts), int(rd.bo.Uint16(opts[2:]))
		if code == optEnd {
			break
		}
		if 4+n > len(opts) {
			return fmt.Errorf("interface description at offset %d: option %d of %d bytes overruns the block", b.at, code, n)
		}
		v := opts[4 : 4+n]
		switch {
		case code == optIfName:
			ifc.Name = string(v)
		case code == optTSResol && n == 1:
			res = tsres{pow2: v[0]&0x80 != 0, exp: v[0] & 0x7f}
			if (res.pow2 && res.exp > 63) || (!res.pow2 && res.exp > 19) {
				return fmt.Errorf("interface description at offset %d: unsupported time stamp resolution %#x", b.at, v[0])
			}
		case code == optTSOffset && n == 8:
			off = int64(rd.bo.Uint64(v))
		}
		opts = opts[min(len(opts), 4+(n+3)&^3):]
	}
	rd.ifaces = append(rd.ifaces, ifc)
	rd.res = append(rd.res, res)
	rd.tsoff = append(rd.tsoff, off)
	return nil
}

// nextNG reads blocks up to the next packet.
func (rd *Reader) nextNG() (*Packet, error) {
	for {
		b, err := rd.readBlock([4]byte{})
		if err != nil {
			return nil, err
		}
		switch b.typ {
		case ngSHB:
			err = rd.section(b)
		case ngIDB:
			err = rd.addInterface(b)
		case ngEPB, ngPB:
			return rd.packet(b)
		case ngSPB:
			return rd.simplePacket(b)
		}
		if err != nil {
			return nil, err
		}
	}
}

// packet reads an enhanced (or obsolete) packet block.
func (rd *Reader) packet(b block) (*Packet, error) {
	if len(b.body) < 20 {
		return nil, fmt.Errorf("packet block at offset %d: too short", b.at)
	}
	var id uint32
	if b.typ == ngEPB {
		id = rd.bo.Uint32(b.body)
	} else {
		id = uint32(rd.bo.Uint16(b.body))
	}
	ts := uint64(rd.bo.Uint32(b.body[4:]))<<32 | uint64(rd.bo.Uint32(b.body[8:]))
	caplen, wire := rd.bo.Uint32(b.body[12:]), rd.bo.Uint32(b.body[16:])
	i, err := rd.iface(id, b)
	if err != nil {
		return nil, err
	}
	if uint64(caplen) > uint64(len(b.body)-20) {
		return nil, fmt.Errorf("packet block at offset %d: capture length %d is more than the block holds (%d)", b.at, caplen, len(b.body)-20)
	}
	data := b.body[20 : 20+min(int(caplen), rd.ifaces[i].Snaplen)]
	rd.pkt = Packet{Timestamp: rd.nanos(i, ts), Data: data, Length: int(wire), Interface: i}
	return &rd.pkt, nil
}

// simplePacket reads a simple packet block: interface 0 of the section,
// no timestamp, as many bytes as the block and the snap length allow.
func (rd *Reader) simplePacket(b block) (*Packet, error) {
	if len(b.body) < 4 {
		return nil, fmt.Errorf("simple packet block at offset %d: too short", b.at)
	}
	i, err := rd.iface(0, b)
	if err != nil {
		return nil, err
	}
	wire := rd.bo.Uint32(b.body)
	n := min(uint64(wire), uint64(len(b.body)-4), uint64(rd.ifaces[i].Snaplen))
	rd.pkt = Packet{Data: b.body[4 : 4+n], Length: int(wire), Interface: i}
	return &rd.pkt, nil
}

// iface returns the file-wide index of the section's interface id.
func (rd *Reader) iface(id uint32, b block) (int, error) {
	if uint64(id) >= uint64(len(rd.ifaces)-rd.base) {
		return 0, fmt.Errorf("packet block at offset %d: a packet arrived on interface %d, but there's no Interface Description Block for that interface", b.at, id)
	}
	return rd.base + int(id), nil
}

// nanos converts a timestamp in interface i's units to nanoseconds since
// the epoch (wrapping, not failing, on values no clock produces).
func (rd *Reader) nanos(i int, t uint64) int64 {
	r := rd.res[i]
	var ns uint64
	switch {
	case r.pow2:
		sec, frac := t>>r.exp, t&(1<<r.exp-1)
		ns = sec * 1e9
		if r.exp > 0 { // frac·1e9 / 2^exp, in 128 bits
			hi, lo := bits.Mul64(frac, 1e9)
			ns += lo>>r.exp | hi<<(64-r.exp)
		}
	case r.exp <= 9:
		ns = t * pow10(9-r.exp)
	default:
		ns = t / pow10(r.exp-9)
	}
	return int64(ns) + rd.tsoff[i]*1e9
}

// pow10 returns 10^n for n <= 19.
func pow10(n uint8) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
