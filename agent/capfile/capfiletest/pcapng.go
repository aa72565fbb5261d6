package capfiletest

import (
	"encoding/binary"
	"fmt"
)

// File is a pcapng section read back by ParseNG: its Interface
// Description, Enhanced Packet and Interface Statistics Blocks, each kind
// in file order.
type File struct {
	Interfaces []IDB
	Packets    []EPB
	Stats      []ISB
}

// IDB is an Interface Description Block.
type IDB struct {
	LinkType uint16
	Snaplen  uint32
	Name     string // if_name
	Tsresol  byte   // if_tsresol
}

// EPB is an Enhanced Packet Block.
type EPB struct {
	IfID uint32
	TS   int64 // in units of the interface's if_tsresol
	Wire uint32
	Data []byte // the captured bytes, within the parsed data
}

// ISB is an Interface Statistics Block.
type ISB struct {
	IfID      uint32
	Received  uint64 // isb_filteraccept
	Drops     uint64 // isb_osdrop
	Delivered uint64 // isb_usrdeliv
	HasKernel bool   // isb_filteraccept is present
}

// Block types and option codes (draft-ietf-opsawg-pcapng).
const (
	typeSHB = 0x0A0D0D0A
	typeIDB = 0x00000001
	typeISB = 0x00000005
	typeEPB = 0x00000006

	optEnd       = 0
	optIfName    = 2
	optIfTsresol = 9
	optFilterAcc = 6
	optOSDrop    = 7
	optUsrDeliv  = 8
)

var le = binary.LittleEndian

// ParseNG reads a little-endian pcapng section: a Section Header Block
// first, then IDBs, EPBs and ISBs in any order (other blocks are skipped),
// every length checked. An EPB must name an interface described before it.
func ParseNG(data []byte) (*File, error) {
	f := &File{}
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return nil, fmt.Errorf("offset %d: %d bytes left, too few for a block", off, len(data)-off)
		}
		typ, n := le.Uint32(data[off:]), int(le.Uint32(data[off+4:]))
		if n < 12 || n%4 != 0 || n > len(data)-off || int(le.Uint32(data[off+n-4:])) != n {
			return nil, fmt.Errorf("offset %d: bad block length %d", off, n)
		}
		b := data[off+8 : off+n-4]
		if off == 0 && (typ != typeSHB || len(b) < 16 || le.Uint32(b) != 0x1A2B3C4D) {
			return nil, fmt.Errorf("no section header block first")
		}
		opts := func(body []byte) (map[uint16][]byte, error) {
			m := map[uint16][]byte{}
			for len(body) >= 4 {
				code, l := le.Uint16(body), int(le.Uint16(body[2:]))
				if code == optEnd {
					return m, nil
				}
				if 4+l > len(body) {
					return nil, fmt.Errorf("offset %d: option %d runs past its block", off, code)
				}
				m[code] = body[4 : 4+l]
				body = body[4+(l+3)&^3:]
			}
			return m, nil
		}
		switch typ {
		case typeIDB:
			if len(b) < 8 {
				return nil, fmt.Errorf("offset %d: short IDB", off)
			}
			o, err := opts(b[8:])
			if err != nil {
				return nil, err
			}
			idb := IDB{LinkType: le.Uint16(b), Snaplen: le.Uint32(b[4:]), Name: string(o[optIfName])}
			if r := o[optIfTsresol]; len(r) == 1 {
				idb.Tsresol = r[0]
			}
			f.Interfaces = append(f.Interfaces, idb)
		case typeEPB:
			if len(b) < 20 {
				return nil, fmt.Errorf("offset %d: short EPB", off)
			}
			capLen := int(le.Uint32(b[12:]))
			if 20+capLen > len(b) || len(b)-20-capLen > 3 {
				return nil, fmt.Errorf("offset %d: EPB captured length %d in %d bytes", off, capLen, len(b))
			}
			id := le.Uint32(b)
			if int(id) >= len(f.Interfaces) {
				return nil, fmt.Errorf("offset %d: EPB of interface %d before its IDB", off, id)
			}
			f.Packets = append(f.Packets, EPB{
				IfID: id, TS: int64(uint64(le.Uint32(b[4:]))<<32 | uint64(le.Uint32(b[8:]))),
				Wire: le.Uint32(b[16:]), Data: b[20 : 20+capLen],
			})
		case typeISB:
			if len(b) < 12 {
				return nil, fmt.Errorf("offset %d: short ISB", off)
			}
			o, err := opts(b[12:])
			if err != nil {
				return nil, err
			}
			isb := ISB{IfID: le.Uint32(b)}
			u64 := func(v []byte) uint64 {
				if len(v) != 8 {
					return 0
				}
				return le.Uint64(v)
			}
			isb.Received, isb.Drops, isb.Delivered = u64(o[optFilterAcc]), u64(o[optOSDrop]), u64(o[optUsrDeliv])
			_, isb.HasKernel = o[optFilterAcc]
			f.Stats = append(f.Stats, isb)
		}
		off += n
	}
	return f, nil
}
