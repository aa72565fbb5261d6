package bpfcompile

import (
	"strings"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
)

// IEEE 802.11: the frame control field, the addresses whose meaning
// depends on it, and the variable-length headers: a radio header before
// the 802.11 header (radiotap, AVS, Prism, PPI) and the 802.11 header's
// own length before the LLC header.

// Frame control, first byte: type and subtype; second byte: direction.
const (
	wlanTypeMask    = 0x0c
	wlanTypeMgt     = 0x00
	wlanTypeCtl     = 0x04
	wlanTypeData    = 0x08
	wlanSubtypeMask = 0xf0
	wlanSubtypeQoS  = 0x80
	wlanSubtypeCTS  = 0xc0
	wlanSubtypeACK  = 0xd0
	wlanDirMask     = 0x03
	wlanDirToDS     = 0x01
	wlanDirFromDS   = 0x02
	wlanDirDSToDS   = 0x03

	// wlanDataHdrLen is the shortest 802.11 data frame header.
	wlanDataHdrLen = 24
	// ppiDLT802_11 is the PPI header's link type field (little-endian)
	// for an 802.11 frame.
	ppiDLT802_11 = 0x69000000
)

// namedValue is a name a keyword takes (an 802.11 type or subtype, a pf
// reason or action) and its value.
type namedValue struct {
	name string
	v    uint32
}

// wlanTypes are the names "type" takes.
var wlanTypes = []namedValue{
	{"data", wlanTypeData}, {"mgt", wlanTypeMgt}, {"management", wlanTypeMgt},
	{"ctl", wlanTypeCtl}, {"control", wlanTypeCtl},
}

// wlanSubtypes are the subtype names of each type, searched in this
// order by "subtype NAME" without a type.
var wlanSubtypes = []struct {
	typ   uint32
	names []namedValue
}{
	{wlanTypeMgt, []namedValue{
		{"assocreq", 0x00}, {"assoc-req", 0x00}, {"assocresp", 0x10}, {"assoc-resp", 0x10},
		{"reassocreq", 0x20}, {"reassoc-req", 0x20}, {"reassocresp", 0x30}, {"reassoc-resp", 0x30},
		{"probereq", 0x40}, {"probe-req", 0x40}, {"proberesp", 0x50}, {"probe-resp", 0x50},
		{"beacon", 0x80}, {"atim", 0x90}, {"disassoc", 0xa0}, {"disassociation", 0xa0},
		{"auth", 0xb0}, {"authentication", 0xb0}, {"deauth", 0xc0}, {"deauthentication", 0xc0},
	}},
	{wlanTypeCtl, []namedValue{
		{"bar", 0x80}, {"ba", 0x90}, {"ps-poll", 0xa0}, {"rts", 0xb0},
		{"cts", 0xc0}, {"ack", 0xd0}, {"cf-end", 0xe0}, {"cf-end-ack", 0xf0},
	}},
	{wlanTypeData, []namedValue{
		{"data", 0x00}, {"data-cf-ack", 0x10}, {"data-cf-poll", 0x20}, {"data-cf-ack-poll", 0x30},
		{"null", 0x40}, {"cf-ack", 0x50}, {"cf-poll", 0x60}, {"cf-ack-poll", 0x70},
		{"qos-data", 0x80}, {"qos-data-cf-ack", 0x90}, {"qos-data-cf-poll", 0xa0},
		{"qos-data-cf-ack-poll", 0xb0}, {"qos", 0xc0}, {"qos-cf-poll", 0xe0}, {"qos-cf-ack-poll", 0xf0},
	}},
}

// wlanDirNames are the names "dir" takes.
var wlanDirNames = []namedValue{
	{"nods", 0}, {"tods", wlanDirToDS}, {"fromds", wlanDirFromDS}, {"dstods", wlanDirDSToDS},
}

// lookupName finds s among names without regard to ASCII case, as
// libpcap does.
func lookupName(names []namedValue, s string) (uint32, bool) {
	for _, n := range names {
		if equalFoldASCII(n.name, s) {
			return n.v, true
		}
	}
	return 0, false
}

// nameNumber returns the value of s when it is a number token's text.
func nameNumber(s string) (uint32, bool) {
	if s == "" || matchN(s) != len(s) {
		return 0, false
	}
	v, msg := parseNumber(s)
	return v, msg == ""
}

// isWLAN reports whether the current link layer is 802.11.
func (g *gen) isWLAN() bool { return g.ll.proto == protoWLAN }

// wlanType generates "type T", "type T subtype S" and "subtype S". The
// names are checked first: libpcap's parser rejects a bad name before it
// looks at the link type.
func (g *gen) wlanType(n *OtherNode) *frag {
	var v, mask uint32
	if n.Kind == "subtype" {
		v = ^uint32(0)
		for _, t := range wlanSubtypes {
			if st, ok := lookupName(t.names, n.Name); ok {
				v = st | t.typ
				break
			}
		}
		if v == ^uint32(0) {
			g.errorf("unknown 802.11 type name")
		}
		mask = wlanTypeMask | wlanSubtypeMask
	} else {
		typName, subName, hasSub := strings.Cut(n.Name, " subtype ")
		t, ok := nameNumber(typName)
		if ok {
			if t&^wlanTypeMask != 0 {
				g.errorf("invalid 802.11 type value 0x%02x", t)
			}
		} else if t, ok = lookupName(wlanTypes, typName); !ok {
			g.errorf("unknown 802.11 type name \"%s\"", typName)
		}
		v, mask = t, wlanTypeMask
		if hasSub {
			st, ok := nameNumber(subName)
			if ok {
				if st&^wlanSubtypeMask != 0 {
					g.errorf("invalid 802.11 subtype value 0x%02x", st)
				}
			} else {
				var names []namedValue
				for _, s := range wlanSubtypes {
					if s.typ == t {
						names = s.names
					}
				}
				if names == nil {
					g.errorf("unknown 802.11 type")
				}
				if st, ok = lookupName(names, subName); !ok {
					g.errorf("unknown 802.11 subtype name \"%s\"", subName)
				}
			}
			v, mask = t|st, wlanTypeMask|wlanSubtypeMask
		}
	}
	if !g.isWLAN() {
		g.failKwOnDLT("type/subtype")
	}
	return g.mcmp(orLinkHdr, 0, cbpf.B, v, mask)
}

// wlanDir generates "dir D".
func (g *gen) wlanDir(name string) *frag {
	d, ok := nameNumber(name)
	if ok {
		if d&^wlanDirMask != 0 {
			g.errorf("invalid 802.11 direction value 0x%x", d)
		}
	} else if d, ok = lookupName(wlanDirNames, name); !ok {
		g.errorf("unknown 802.11 direction")
	}
	if !g.isWLAN() {
		g.failKwOnDLT("dir")
	}
	return g.mcmp(orLinkHdr, 1, cbpf.B, d, wlanDirMask)
}

// wlanFC tests bits of frame control byte i: set, or clear when !set.
func (g *gen) wlanFC(i uint32, bits uint32, set bool) *frag {
	s := g.loadA(orLinkHdr, i, cbpf.B)
	if set {
		return g.setBits(bits, s)
	}
	return g.unsetBits(bits, s)
}

// wlanAddr generates a test of the address fields of an 802.11 frame;
// at tests one field (an address or its multicast bit) at an offset.
// dir is src, dst, src or dst, src and dst, or one of the fields
// (addr1..4, ra, ta).
func (g *gen) wlanAddr(at func(off uint32) *frag, d dqual) *frag {
	switch d {
	case dSrc:
		// A data frame's source address: to and from the DS, addr4;
		// from the DS only, addr3; otherwise addr2. A management
		// frame's: addr2. A control frame has none.
		b1 := g.wlanFC(1, wlanDirToDS, true)
		b0 := g.and(b1, at(24))
		b2 := g.wlanFC(1, wlanDirToDS, false)
		b1 = g.and(b2, at(16))
		b0 = g.or(b1, b0)
		b1 = g.wlanFC(1, wlanDirFromDS, true)
		b0 = g.and(b1, b0)
		b2 = g.wlanFC(1, wlanDirFromDS, false)
		b1 = g.and(b2, at(10))
		b0 = g.or(b1, b0)
		b1 = g.wlanFC(0, wlanTypeData, true)
		b0 = g.and(b1, b0)
		b2 = g.wlanFC(0, wlanTypeData, false)
		b1 = g.and(b2, at(10))
		b0 = g.or(b1, b0)
		b1 = g.wlanFC(0, wlanTypeCtl, false)
		return g.and(b1, b0)
	case dDst:
		// A data frame's destination: to the DS, addr3; otherwise
		// addr1, as in a management frame.
		b1 := g.wlanFC(1, wlanDirToDS, true)
		b0 := g.and(b1, at(16))
		b2 := g.wlanFC(1, wlanDirToDS, false)
		b1 = g.and(b2, at(4))
		b0 = g.or(b1, b0)
		b1 = g.wlanFC(0, wlanTypeData, true)
		b0 = g.and(b1, b0)
		b2 = g.wlanFC(0, wlanTypeData, false)
		b1 = g.and(b2, at(4))
		b0 = g.or(b1, b0)
		b1 = g.wlanFC(0, wlanTypeCtl, false)
		return g.and(b1, b0)
	case dAnd:
		b0 := g.wlanAddr(at, dSrc)
		return g.and(b0, g.wlanAddr(at, dDst))
	case dDefault, dOr:
		b0 := g.wlanAddr(at, dSrc)
		return g.or(b0, g.wlanAddr(at, dDst))
	case dAddr1:
		return at(4)
	case dAddr2:
		// Every frame but CTS and ACK has addr2.
		return g.and(g.wlanHasAddr2(), at(10))
	case dAddr3:
		b0 := g.ncmp(orLinkHdr, 0, cbpf.B, wlanTypeMask, cbpf.JEQ, true, wlanTypeCtl)
		return g.and(b0, at(16))
	case dAddr4:
		b0 := g.mcmp(orLinkHdr, 1, cbpf.B, wlanDirDSToDS, wlanDirMask)
		return g.and(b0, at(24))
	case dRA:
		// The receiver is addr1 of a data frame.
		b1 := g.wlanFC(0, wlanTypeData, true)
		return g.and(b1, at(4))
	case dTA:
		// The transmitter is addr2 of a data frame.
		b2 := g.wlanHasAddr2()
		b1 := g.wlanFC(0, wlanTypeData, true)
		b2 = g.and(b1, b2)
		return g.and(b2, at(10))
	}
	g.errorf("internal error: 802.11 direction %d", d)
	return nil
}

// wlanHasAddr2 is true for frames with an addr2 field: all but the
// control frames CTS and ACK.
func (g *gen) wlanHasAddr2() *frag {
	ne := func(v, mask uint32) *frag { return g.ncmp(orLinkHdr, 0, cbpf.B, mask, cbpf.JEQ, true, v) }
	b0 := ne(wlanTypeCtl, wlanTypeMask)
	b1 := ne(wlanSubtypeCTS, wlanSubtypeMask)
	b2 := ne(wlanSubtypeACK, wlanSubtypeMask)
	b2 = g.and(b1, b2)
	return g.or(b0, b2)
}

// wlanHost tests an 802.11 MAC-48 address.
func (g *gen) wlanHost(eaddr []byte, d dqual) *frag {
	return g.wlanAddr(func(off uint32) *frag { return g.bcmp(orLinkHdr, off, eaddr) }, d)
}

// wlanMulticast tests for a multicast destination: addr3 of a data frame
// to the DS, addr1 of other data and management frames.
func (g *gen) wlanMulticast() *frag {
	return g.wlanAddr(func(off uint32) *frag { return g.setBits(1, g.loadA(orLinkHdr, off, cbpf.B)) }, dDst)
}

// asm builds statements with forward jumps to labels inside one block,
// for code that libpcap puts before the first test: the jump offsets are
// relative to the next statement, the label "" is the end.
type asm struct {
	s      []stmt
	labels map[string]int
	fixes  []asmFix
}

type asmFix struct {
	at     int
	jt, jf string
}

func (a *asm) op(code uint16, k uint32) { a.s = append(a.s, stmt{code: code, k: k}) }

func (a *asm) jump(code uint16, k uint32, jt, jf string) {
	a.fixes = append(a.fixes, asmFix{len(a.s), jt, jf})
	a.s = append(a.s, stmt{code: code, k: k})
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.s)
}

// done resolves the jumps; the label "" is the statement after the last.
func (a *asm) done() []stmt {
	target := func(l string) int {
		if l == "" {
			return len(a.s)
		}
		return a.labels[l]
	}
	for _, f := range a.fixes {
		a.s[f.at].jt = uint8(target(f.jt) - f.at - 1)
		a.s[f.at].jf = uint8(target(f.jf) - f.at - 1)
	}
	return a.s
}

// radioPrefixLen returns statements that store the length of the radio
// header before the 802.11 header in the link header's register hdrReg
// and leave it in X, or nil when nothing uses that register (-1).
func (g *gen) radioPrefixLen(hdrReg int) []stmt {
	if g.outerPrefix == prefixPrism {
		// The Prism header might really be an AVS header; the jumps
		// are not for the optimizer.
		g.noOptimize = true
	}
	if hdrReg == -1 {
		return nil
	}
	reg := uint32(hdrReg)
	var a asm
	switch g.outerPrefix {
	case prefixRadiotap, prefixPPI:
		// A little-endian length at offset 2.
		a.op(cbpf.LD|cbpf.ABS|cbpf.B, 3)
		a.op(cbpf.ALU|cbpf.LSH|cbpf.K, 8)
		a.op(cbpf.MISC|cbpf.TAX, 0)
		a.op(cbpf.LD|cbpf.ABS|cbpf.B, 2)
		a.op(cbpf.ALU|cbpf.OR|cbpf.X, 0)
	case prefixAVS:
		a.op(cbpf.LD|cbpf.ABS|cbpf.W, 4)
	case prefixPrism:
		// An AVS header (cookie 0x80211xxx) has its length at offset 4;
		// a Prism header is 144 bytes.
		a.op(cbpf.LD|cbpf.ABS|cbpf.W, 0)
		a.op(cbpf.ALU|cbpf.AND|cbpf.K, 0xfffff000)
		a.jump(cbpf.JMP|cbpf.JEQ|cbpf.K, 0x80211000, "avs", "prism")
		a.label("avs")
		a.op(cbpf.LD|cbpf.ABS|cbpf.W, 4)
		a.op(cbpf.JMP|cbpf.JA, 1)
		a.label("prism")
		a.op(cbpf.LD|cbpf.IMM, 144)
	default:
		return nil
	}
	a.op(cbpf.ST, reg)
	a.op(cbpf.MISC|cbpf.TAX, 0)
	return a.done()
}

// wlanHeaderLen appends to prefix (which leaves the radio header's length
// in X, or is nil) the computation of the 802.11 payload offset into the
// register plReg: 24 bytes, 2 more in a QoS data frame, rounded up to 4
// when a radiotap header says the driver pads. It jumps past itself to
// the block's statements. Nothing is computed when plReg is -1.
func (g *gen) wlanHeaderLen(prefix []stmt, plReg int) []stmt {
	if plReg == -1 {
		return prefix
	}
	g.noOptimize = true // jumps inside a block are not for the optimizer
	pl := uint32(plReg)
	var a asm
	a.s = prefix
	if prefix == nil {
		a.op(cbpf.LDX|cbpf.IMM, g.offOuterLinkHdr.constPart)
	}
	a.op(cbpf.MISC|cbpf.TXA, 0)
	a.op(cbpf.ALU|cbpf.ADD|cbpf.K, wlanDataHdrLen)
	a.op(cbpf.ST, pl)
	a.op(cbpf.LD|cbpf.IND|cbpf.B, 0)
	a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, wlanTypeData, "data?", "")
	a.label("data?")
	a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, wlanTypeCtl, "", "data")
	a.label("data")
	radiotap := g.outerPrefix == prefixRadiotap
	noQoS := ""
	if radiotap {
		noQoS = "radiotap"
	}
	a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, wlanSubtypeQoS, "qos", noQoS)
	a.label("qos")
	a.op(cbpf.LD|cbpf.MEM, pl)
	a.op(cbpf.ALU|cbpf.ADD|cbpf.K, 2)
	a.op(cbpf.ST, pl)
	if radiotap {
		// Radiotap fields are little-endian: the flags are present
		// (bit 1), there is one presence word (bit 31 clear), the
		// flags follow the TSFT (bit 0) or not; the flags' DATAPAD bit.
		a.label("radiotap")
		a.op(cbpf.LD|cbpf.ABS|cbpf.W, 4)
		a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, swap32(0x00000002), "flags", "")
		a.label("flags")
		a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, swap32(0x80000000), "", "ext")
		a.label("ext")
		a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, swap32(0x00000001), "tsft", "notsft")
		a.label("tsft")
		a.op(cbpf.LD|cbpf.ABS|cbpf.B, 16)
		a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, 0x20, "pad", "")
		a.label("notsft")
		a.op(cbpf.LD|cbpf.ABS|cbpf.B, 8)
		a.jump(cbpf.JMP|cbpf.JSET|cbpf.K, 0x20, "pad", "")
		a.label("pad")
		a.op(cbpf.LD|cbpf.MEM, pl)
		a.op(cbpf.ALU|cbpf.ADD|cbpf.K, 3)
		a.op(cbpf.ALU|cbpf.AND|cbpf.K, 0xfffffffc)
		a.op(cbpf.ST, pl)
	}
	return a.done()
}

// pflogHeaderLen returns statements that store pflog's header length
// (its first byte, rounded up to 4) in the payload's register plReg, or
// nil when it is -1.
func (g *gen) pflogHeaderLen(plReg int) []stmt {
	if plReg == -1 {
		return nil
	}
	pl := uint32(plReg)
	return []stmt{
		{code: cbpf.LD | cbpf.ABS | cbpf.B, k: 0},
		{code: cbpf.ALU | cbpf.ADD | cbpf.K, k: 3},
		{code: cbpf.ALU | cbpf.AND | cbpf.K, k: 0xfffffffc},
		{code: cbpf.ST, k: pl},
		{code: cbpf.MISC | cbpf.TAX},
	}
}
