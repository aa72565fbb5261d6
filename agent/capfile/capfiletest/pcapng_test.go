package capfiletest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// block builds a pcapng block of type typ around body (padded to 4 bytes).
func block(typ uint32, body ...[]byte) []byte {
	var b []byte
	for _, p := range body {
		b = append(b, p...)
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	n := uint32(12 + len(b))
	out := le.AppendUint32(nil, typ)
	out = le.AppendUint32(out, n)
	out = append(out, b...)
	return le.AppendUint32(out, n)
}

func u16(v uint16) []byte { return le.AppendUint16(nil, v) }
func u32(v uint32) []byte { return le.AppendUint32(nil, v) }
func u64(v uint64) []byte { return le.AppendUint64(nil, v) }

// opt is one option: code, length, value padded to 4 bytes.
func opt(code uint16, v []byte) []byte {
	b := append(append(u16(code), u16(uint16(len(v)))...), v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

var (
	shb = block(typeSHB, u32(0x1A2B3C4D), u16(1), u16(0), u64(1<<64-1), opt(optEnd, nil))
	idb = block(typeIDB, u16(1), u16(0), u32(100), opt(optIfName, []byte("eth0")), opt(optIfTsresol, []byte{9}), opt(optEnd, nil))
	epb = block(typeEPB, u32(0), u32(1), u32(2), u32(3), u32(70), []byte{1, 2, 3})
	isb = block(typeISB, u32(0), u32(0), u32(5), opt(optFilterAcc, u64(10)), opt(optOSDrop, u64(2)), opt(optUsrDeliv, u64(1)), opt(optEnd, nil))
)

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParseNG(t *testing.T) {
	f, err := ParseNG(cat(shb, idb, epb, isb))
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Interfaces: []IDB{{LinkType: 1, Snaplen: 100, Name: "eth0", Tsresol: 9}},
		Packets:    []EPB{{IfID: 0, TS: 1<<32 | 2, Wire: 70, Data: []byte{1, 2, 3}}},
		Stats:      []ISB{{IfID: 0, Received: 10, Drops: 2, Delivered: 1, HasKernel: true}},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("ParseNG (-want +got):\n%s", diff)
	}
}

// TestParseNGRefuses: the parser is the tests' oracle, so it must refuse
// what is not a well-formed file rather than read something into it.
func TestParseNGRefuses(t *testing.T) {
	badLen := cat(shb, idb, epb)
	le.PutUint32(badLen[len(badLen)-4:], 999) // trailing length differs
	shortCap := cat(shb, idb, epb)
	le.PutUint32(shortCap[len(shb)+len(idb)+20:], 40) // captured length past the block
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"no section header first", cat(idb, shb)},
		{"truncated block", cat(shb, idb, epb[:len(epb)-1])},
		{"trailing length differs", badLen},
		{"EPB before its IDB", cat(shb, epb)},
		{"captured length past the block", shortCap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f, err := ParseNG(tc.data); err == nil {
				t.Errorf("ParseNG = %+v, want an error", f)
			}
		})
	}
}
