package bpfcompile

import "github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"

// SS7: MTP2 signal unit types (by the length indicator) and MTP3 routing
// label fields, in MTP2 and in MTP2 over high speed links (the "h"
// keywords: a 12-bit length indicator, fields 3 bytes later).

// MTP3 field limits.
const (
	mtp3PCMax  = 0x3fff
	mtp3SLSMax = 0xf
)

func (g *gen) assertSS7(kw string) *ss7Offsets {
	if g.ll.ss7 == nil {
		g.errorf("'%s' supported only on SS7", kw)
	}
	return g.ll.ss7
}

// ss7Type generates fisu, lssu, msu and their high speed forms.
func (g *gen) ss7Type(kw string) *frag {
	if kw == "lsu" {
		kw = "lssu"
	}
	o := g.assertSS7(kw)
	li := func(jtype uint16, reverse bool, v uint32) *frag {
		return g.ncmp(orPacket, o.li, cbpf.B, 0x3f, jtype, reverse, v)
	}
	hli := func(jtype uint16, reverse bool, v uint32) *frag {
		return g.ncmp(orPacket, o.liHSL, cbpf.H, 0xff80, jtype, reverse, v)
	}
	switch kw {
	case "fisu":
		return li(cbpf.JEQ, false, 0)
	case "lssu":
		b0 := li(cbpf.JGT, true, 2)
		b1 := li(cbpf.JGT, false, 0)
		return g.and(b1, b0)
	case "msu":
		return li(cbpf.JGT, false, 2)
	case "hfisu":
		return hli(cbpf.JEQ, false, 0)
	case "hlssu":
		b0 := hli(cbpf.JGT, true, 0x0100)
		b1 := hli(cbpf.JGT, false, 0)
		return g.and(b1, b0)
	case "hmsu":
		return hli(cbpf.JGT, false, 0x0100)
	}
	g.errorf("internal error: SS7 keyword %q", kw)
	return nil
}

// ss7Field compares an MTP3 field with v (SIO, OPC, DPC, SLS; the "h"
// forms on high speed links). The point codes and SLS are little-endian
// bit fields of the routing label.
func (g *gen) ss7Field(kw string, v uint32, jtype uint16, reverse bool) *frag {
	o := g.assertSS7(kw)
	var hsl uint32
	name := kw
	if kw[0] == 'h' {
		hsl, name = 3, kw[1:]
	}
	switch name {
	case "sio":
		g.assertMax(kw, v, 0xff)
		return g.ncmp(orPacket, o.sio+hsl, cbpf.B, 0xffffffff, jtype, reverse, v)
	case "opc":
		g.assertMax(kw, v, mtp3PCMax)
		return g.ncmp(orPacket, o.opc+hsl, cbpf.W, swap32(mtp3PCMax<<14), jtype, reverse, swap32(v<<14))
	case "dpc":
		g.assertMax(kw, v, mtp3PCMax)
		return g.ncmp(orPacket, o.dpc+hsl, cbpf.H, swap16(mtp3PCMax), jtype, reverse, swap16(v))
	case "sls":
		g.assertMax(kw, v, mtp3SLSMax)
		return g.ncmp(orPacket, o.sls+hsl, cbpf.B, mtp3SLSMax<<4, jtype, reverse, v<<4)
	}
	g.errorf("internal error: MTP3 field %q", kw)
	return nil
}

func swap16(v uint32) uint32 { return v>>8&0xff | v&0xff<<8 }
