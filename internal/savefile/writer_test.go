package savefile

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket/pcapgo"
)

// TestWriterRoundTrip writes pcap and pcapng with Writer and reads them
// back with Reader and with pcapgo: the same frames, cut to the snap
// length, with nanosecond timestamps and the interfaces described.
func TestWriterRoundTrip(t *testing.T) {
	frames := []got{{1_700_000_000_123_456_789, "abcdefgh", 60, 0}, {1_700_000_001_000_000_001, "xyz", 3, 1}}
	t.Run("pcap", func(t *testing.T) {
		var b bytes.Buffer
		w, err := NewPcapWriter(&b, 1, 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			if err := w.WritePacket(0, f.TS, []byte(f.Data), f.Len); err != nil {
				t.Fatal(err)
			}
		}
		want := []got{{frames[0].TS, "abcde", 60, 0}, {frames[1].TS, "xyz", 3, 0}}
		rd, pkts, err := readAll(t, b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, pkts); diff != "" {
			t.Errorf("Reader (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]Interface{{LinkType: 1, Snaplen: 5}}, rd.Interfaces()); diff != "" {
			t.Errorf("interfaces (-want +got):\n%s", diff)
		}
		r, err := pcapgo.NewReader(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range want {
			d, ci, err := r.ReadPacketData()
			if err != nil || string(d) != f.Data || ci.Timestamp.UnixNano() != f.TS || ci.Length != f.Len {
				t.Errorf("pcapgo record %d: %q %v %d %v, want %+v", i, d, ci.Timestamp.UnixNano(), ci.Length, err, f)
			}
		}
	})
	t.Run("pcapng", func(t *testing.T) {
		var b bytes.Buffer
		w, err := NewPcapngWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		ifaces := []Interface{{LinkType: 1, Snaplen: 262144, Name: "eth0"}, {LinkType: 228, Snaplen: 2, Name: "any"}}
		for _, ifc := range ifaces {
			if _, err := w.AddInterface(ifc); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range frames {
			if err := w.WritePacket(f.Iface, f.TS, []byte(f.Data), f.Len); err != nil {
				t.Fatal(err)
			}
		}
		want := []got{frames[0], {frames[1].TS, "xy", 3, 1}}
		rd, pkts, err := readAll(t, b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, pkts); diff != "" {
			t.Errorf("Reader (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(ifaces, rd.Interfaces()); diff != "" {
			t.Errorf("interfaces (-want +got):\n%s", diff)
		}
		opts := pcapgo.DefaultNgReaderOptions
		opts.WantMixedLinkType = true
		r, err := pcapgo.NewNgReader(bytes.NewReader(b.Bytes()), opts)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range want {
			d, ci, err := r.ReadPacketData()
			if err != nil || string(d) != f.Data || ci.Timestamp.UnixNano() != f.TS || ci.Length != f.Len || ci.InterfaceIndex != f.Iface {
				t.Errorf("pcapgo record %d: %q %v %d if %d %v, want %+v", i, d, ci.Timestamp.UnixNano(), ci.Length, ci.InterfaceIndex, err, f)
			}
		}
		if ifc, err := r.Interface(1); err != nil || ifc.Name != "any" || ifc.LinkType != 228 {
			t.Errorf("pcapgo interface 1: %+v %v", ifc, err)
		}
	})
	t.Run("no allocation per record", func(t *testing.T) {
		var b bytes.Buffer
		w, _ := NewPcapngWriter(&b)
		_, _ = w.AddInterface(Interface{LinkType: 1, Snaplen: 100})
		data := make([]byte, 61)
		b.Grow(1 << 20)
		if n := testing.AllocsPerRun(100, func() { _ = w.WritePacket(0, 1, data, 61) }); n != 0 {
			t.Errorf("%v allocations per record, want 0", n)
		}
	})
}
