package savefile

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// FuzzReader: whatever the bytes, the reader returns packets or an error,
// never panics, and what it returns holds its promises: data within the
// interface's snap length, an interface that was described.
func FuzzReader(f *testing.F) {
	root := testenv.ModuleRoot(f)
	for _, glob := range []string{"testdata/conformance/savefiles/*.pcap*", "testdata/conformance/packets/tcpdump-RAW.pcap"} {
		files, _ := filepath.Glob(filepath.Join(root, glob))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b[:min(len(b), 4096)])
		}
	}
	le := binary.LittleEndian
	f.Add(cat(shb(le, 1, 0), idb(le, 1, 0, [2]any{optTSResol, []byte{0x80 | 63}}), epb(le, 0, ^uint64(0), "abcd", 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for range 10000 {
			p, err := rd.Next()
			if err != nil {
				return
			}
			ifs := rd.Interfaces()
			if p.Interface < 0 || p.Interface >= len(ifs) {
				t.Fatalf("packet on interface %d of %d", p.Interface, len(ifs))
			}
			if len(p.Data) > ifs[p.Interface].Snaplen || ifs[p.Interface].Snaplen > MaxSnaplen {
				t.Fatalf("%d bytes on an interface of snap length %d", len(p.Data), ifs[p.Interface].Snaplen)
			}
		}
	})
}
