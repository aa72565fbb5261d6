package savefile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/pcapgo"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// got is a packet as the tests compare it.
type got struct {
	TS    int64
	Data  string
	Len   int
	Iface int
}

// readAll reads every packet of b.
func readAll(t *testing.T, b []byte) (*Reader, []got, error) {
	t.Helper()
	rd, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	var out []got
	for {
		p, err := rd.Next()
		if err == io.EOF {
			return rd, out, nil
		}
		if err != nil {
			return rd, out, err
		}
		out = append(out, got{p.Timestamp, string(p.Data), p.Length, p.Interface})
	}
}

// pcapFile builds a pcap file: bo, magic, snaplen, link type, then records
// of (sec, frac, data, wire).
func pcapFile(bo order, magic uint32, major, minor uint16, snaplen, lt uint32, recs ...rec) []byte {
	b := bo.AppendUint32(nil, magic)
	b = bo.AppendUint16(b, major)
	b = bo.AppendUint16(b, minor)
	b = append(b, make([]byte, 8)...)
	b = bo.AppendUint32(b, snaplen)
	b = bo.AppendUint32(b, lt)
	for _, r := range recs {
		b = bo.AppendUint32(b, r.sec)
		b = bo.AppendUint32(b, r.frac)
		b = bo.AppendUint32(b, uint32(len(r.data)))
		b = bo.AppendUint32(b, r.wire)
		b = append(b, r.data...)
	}
	return b
}

type rec struct {
	sec, frac uint32
	data      string
	wire      uint32
}

// ngBlock builds one pcapng block of type typ with body, padded.
func ngBlock(bo order, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := bo.AppendUint32(nil, typ)
	b = bo.AppendUint32(b, n)
	b = append(b, body...)
	return bo.AppendUint32(b, n)
}

func shb(bo order, major, minor uint16) []byte {
	body := bo.AppendUint32(nil, ngBOMagic)
	body = bo.AppendUint16(body, major)
	body = bo.AppendUint16(body, minor)
	body = bo.AppendUint64(body, ^uint64(0))
	return ngBlock(bo, ngSHB, body)
}

// idb builds an interface description with options (code, value).
func idb(bo order, lt uint16, snaplen uint32, opts ...[2]any) []byte {
	body := bo.AppendUint16(nil, lt)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint32(body, snaplen)
	for _, o := range opts {
		v := o[1].([]byte)
		body = bo.AppendUint16(body, uint16(o[0].(int)))
		body = bo.AppendUint16(body, uint16(len(v)))
		body = append(body, v...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	return ngBlock(bo, ngIDB, body)
}

func epb(bo order, id uint32, ts uint64, data string, wire uint32) []byte {
	body := bo.AppendUint32(nil, id)
	body = bo.AppendUint32(body, uint32(ts>>32))
	body = bo.AppendUint32(body, uint32(ts))
	body = bo.AppendUint32(body, uint32(len(data)))
	body = bo.AppendUint32(body, wire)
	return ngBlock(bo, ngEPB, append(body, data...))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReader(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	tsresol := func(v byte) [2]any { return [2]any{optTSResol, []byte{v}} }
	tests := []struct {
		name   string
		file   []byte
		format string
		ifaces []Interface
		want   []got
	}{
		{"pcap micro little-endian", pcapFile(le, pcapMagicMicro, 2, 4, 65535, 1, rec{10, 5, "abcd", 60}),
			"pcap", []Interface{{LinkType: 1, Snaplen: 65535}}, []got{{10e9 + 5000, "abcd", 60, 0}}},
		{"pcap nano big-endian", pcapFile(be, pcapMagicNano, 2, 4, 0, 101, rec{1, 999999999, "xy", 2}),
			"pcap", []Interface{{LinkType: 101, Snaplen: MaxSnaplen, BigEndian: true}}, []got{{1e9 + 999999999, "xy", 2, 0}}},
		{"pcap record longer than the snap length is cut to it",
			pcapFile(le, pcapMagicMicro, 2, 4, 3, 1, rec{1, 0, "abcdef", 6}, rec{2, 0, "gh", 2}),
			"pcap", []Interface{{LinkType: 1, Snaplen: 3}}, []got{{1e9, "abc", 6, 0}, {2e9, "gh", 2, 0}}},
		{"pcap version 2.2", pcapFile(le, pcapMagicMicro, 2, 2, 100, 1),
			"pcap", []Interface{{LinkType: 1, Snaplen: 100}}, nil},
		{"pcapng two link types and resolutions, little-endian",
			cat(shb(le, 1, 0),
				idb(le, 1, 0, [2]any{optIfName, []byte("eth0")}),
				idb(le, 276, 128, tsresol(9), [2]any{optTSOffset, le.AppendUint64(nil, 100)}),
				epb(le, 0, 1_500_000, "e0", 60),    // microseconds
				ngBlock(le, 5, []byte{1, 2, 3, 4}), // an unknown block is skipped
				epb(le, 1, 7, "s1", 80)),
			"pcapng", []Interface{{LinkType: 1, Snaplen: MaxSnaplen, Name: "eth0"}, {LinkType: 276, Snaplen: 128}},
			[]got{{1_500_000_000, "e0", 60, 0}, {100e9 + 7, "s1", 80, 1}}},
		{"pcapng big-endian, 2^-10 resolution, simple and obsolete packet blocks",
			cat(shb(be, 1, 0), idb(be, 1, 2, tsresol(0x80|10)),
				epb(be, 0, 3<<10|512, "abcd", 4), // 3.5 s, cut to the snap length 2
				ngBlock(be, ngSPB, append(be.AppendUint32(nil, 9), "wxyz"...)),
				ngBlock(be, ngPB, cat(be.AppendUint16(nil, 0), be.AppendUint16(nil, 0),
					be.AppendUint32(nil, 0), be.AppendUint32(nil, 1024), be.AppendUint32(nil, 1), be.AppendUint32(nil, 1), []byte("q")))),
			"pcapng", []Interface{{LinkType: 1, Snaplen: 2, BigEndian: true}},
			[]got{{3_500_000_000, "ab", 4, 0}, {0, "wx", 9, 0}, {1e9, "q", 1, 0}}},
		{"pcapng second section in the other byte order",
			cat(shb(le, 1, 0), idb(le, 1, 0), epb(le, 0, 1, "a", 1),
				shb(be, 1, 2), idb(be, 101, 0), epb(be, 0, 2, "b", 1)),
			"pcapng", []Interface{{LinkType: 1, Snaplen: MaxSnaplen}, {LinkType: 101, Snaplen: MaxSnaplen, BigEndian: true}},
			[]got{{1000, "a", 1, 0}, {2000, "b", 1, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, pkts, err := readAll(t, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if rd.Format() != tt.format {
				t.Errorf("format %q, want %q", rd.Format(), tt.format)
			}
			if diff := cmp.Diff(tt.ifaces, rd.Interfaces()); diff != "" {
				t.Errorf("interfaces (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, pkts); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReaderErrors: files libpcap refuses are refused with its words, and
// a file that ends inside a record reports ErrTruncated after the packets
// before it.
func TestReaderErrors(t *testing.T) {
	le := binary.LittleEndian
	good := cat(shb(le, 1, 0), idb(le, 1, 0), epb(le, 0, 1, "abcd", 4))
	badTrailer := bytes.Clone(good)
	le.PutUint32(badTrailer[len(badTrailer)-4:], 99)
	tests := []struct {
		name    string
		file    []byte
		packets int
		want    string
		is      error
	}{
		{"empty", nil, 0, "truncated dump file", ErrTruncated},
		{"not a capture", []byte("hello, world, this is text"), 0, "unknown file format", ErrUnknownFormat},
		{"pcap archaic", pcapFile(le, pcapMagicMicro, 1, 0, 100, 1), 0, "unsupported pcap savefile version 1.0", nil},
		{"pcap 2.5", pcapFile(le, pcapMagicMicro, 2, 5, 100, 1), 0, "unsupported pcap savefile version 2.5", nil},
		{"pcap truncated header", pcapFile(le, pcapMagicMicro, 2, 4, 100, 1)[:10], 0, "truncated dump file", ErrTruncated},
		{"pcap truncated record", pcapFile(le, pcapMagicMicro, 2, 4, 100, 1, rec{1, 0, "abcd", 4}, rec{2, 0, "efgh", 4})[:24+20+18],
			1, "truncated dump file", ErrTruncated},
		{"pcap huge record", pcapFile(le, pcapMagicMicro, 2, 4, 100, 1, rec{1, 0, "", 4})[:24+8] /* patched below */, 0,
			"invalid packet capture length", nil},
		{"pcapng 0.1", shb(le, 0, 1), 0, "unsupported pcapng savefile version 0.1", nil},
		{"pcapng 1.1", shb(le, 1, 1), 0, "unsupported pcapng savefile version 1.1", nil},
		{"pcapng no interface", shb(le, 1, 0), 0, "no Interface Description Blocks", nil},
		{"pcapng packet before interface", cat(shb(le, 1, 0), epb(le, 0, 1, "a", 1)), 0, "packet block before any Interface Description Blocks", nil},
		{"pcapng unknown interface", cat(shb(le, 1, 0), idb(le, 1, 0), epb(le, 3, 1, "a", 1)), 0, "no Interface Description Block for that interface", nil},
		{"pcapng trailer", badTrailer, 0, "block total length in header 36 and trailer 99 don't match", nil},
		{"pcapng truncated block", good[:len(good)-3], 0, "truncated dump file", ErrTruncated},
		{"pcapng huge block", cat(shb(le, 1, 0), le.AppendUint32(le.AppendUint32(nil, ngIDB), 1<<30)), 0, "more than the maximum", nil},
		{"pcapng caplen past the block", func() []byte {
			b := bytes.Clone(good)
			le.PutUint32(b[len(b)-4-4-4-4:], 1000) // the EPB's caplen
			return b
		}(), 0, "more than the block holds", nil},
	}
	// The huge record: a record header whose caplen is 1 MB.
	huge := pcapFile(le, pcapMagicMicro, 2, 4, 100, 1)
	huge = le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(huge, 1), 0), 1<<20), 1<<20)
	tests[6].file = huge
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pkts, err := readAll(t, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if len(pkts) != tt.packets {
				t.Errorf("%d packets before the error, want %d", len(pkts), tt.packets)
			}
		})
	}
}

// TestReaderConformanceFiles reads every capture of the conformance data
// and compares with gopacket's pcapgo, an independent reader: the same
// packets, bytes and timestamps (the files whose records fit their snap
// length; pcapgo does not cut longer ones). The files libpcap refuses are
// TestReaderErrors' and TestOfflineParity's concern.
func TestReaderConformanceFiles(t *testing.T) {
	root := testenv.ModuleRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "testdata/conformance/packets/*.pcap"))
	more, _ := filepath.Glob(filepath.Join(root, "testdata/conformance/savefiles/*.pcap*"))
	files = append(files, more...)
	if len(files) < 40 {
		t.Fatalf("found %d capture files, want the conformance data", len(files))
	}
	read := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want []got
		var lt uint32
		var pcapgoErr error
		if strings.HasSuffix(f, ".pcapng") {
			r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.DefaultNgReaderOptions)
			if err != nil {
				continue
			}
			lt = uint32(r.LinkType())
			for {
				d, ci, err := r.ReadPacketData()
				if err != nil {
					pcapgoErr = err
					break
				}
				want = append(want, got{ci.Timestamp.UnixNano(), string(d), ci.Length, ci.InterfaceIndex})
			}
		} else {
			r, err := pcapgo.NewReader(bytes.NewReader(b))
			if err != nil {
				continue
			}
			lt = uint32(r.LinkType())
			for {
				d, ci, err := r.ReadPacketData()
				if err != nil {
					pcapgoErr = err
					break
				}
				want = append(want, got{ci.Timestamp.UnixNano(), string(d), ci.Length, 0})
			}
		}
		rd, pkts, err := readAll(t, b)
		if err != nil {
			// libpcap refuses its reserved bits, which pcapgo ignores
			// (TestReaderRejectsAsLibpcap).
			if filepath.Base(f) != "linktype-reserved-field-not-zero.pcap" {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
			continue
		}
		read++
		if pcapgoErr != io.EOF {
			continue // pcapgo refuses records longer than the snap length, which libpcap cuts
		}
		if got := rd.Interfaces()[0].LinkType; uint32(uint8(got)) != lt { // pcapgo keeps 8 bits
			t.Errorf("%s: link type %d, pcapgo %d", filepath.Base(f), got, lt)
		}
		if diff := cmp.Diff(want, pkts); diff != "" {
			t.Errorf("%s: packets differ from pcapgo's (-pcapgo +ours):\n%s", filepath.Base(f), diff)
		}
	}
	t.Logf("%d files read", read)
}

// order is a byte order that appends.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// TestReaderRejectsAsLibpcap: the savefiles libpcap's test suite expects
// it to refuse are refused with its message.
func TestReaderRejectsAsLibpcap(t *testing.T) {
	root := testenv.ModuleRoot(t)
	var corpus struct {
		Reject []struct {
			Savefile, Errstr string
		}
	}
	f, err := os.Open(filepath.Join(root, "testdata/conformance/libpcap-filter-tests.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(zr).Decode(&corpus); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range corpus.Reject {
		if r.Savefile == "" {
			continue
		}
		n++
		b, err := os.ReadFile(filepath.Join(root, "testdata/conformance/savefiles", r.Savefile))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = readAll(t, b)
		want := strings.TrimPrefix(r.Errstr, "Failed opening: ")
		// libpcap counts the section header's length from its fixed part
		// (32); the reader names the length field's value.
		want = strings.Replace(want, "in header 32 and", "in header 52 and", 1)
		if err == nil || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s: %v, want libpcap's %q", r.Savefile, err, want)
		}
	}
	if n != 6 {
		t.Errorf("%d savefile reject tests, want 6", n)
	}
}
