package capfile

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// records lays out pkts in f's records, cut to snaplen, the way a holder
// of frames does it for a File.
func records(f RecordFormat, snaplen int, pkts []testPacket) []byte {
	var out []byte
	for _, p := range pkts {
		n, wire := capLen(p.Data, p.Length, snaplen)
		rec := make([]byte, f.Len(n))
		for i := range rec {
			rec[i] = 0xee // the bytes of whatever the memory held before
		}
		copy(rec[f.Head:], p.Data[:n])
		f.Put(rec, p.Timestamp, n, int(wire))
		out = append(out, rec...)
	}
	return out
}

// TestFileMatchesWriter assembles files from a header, records spilled
// into a Buffer, runs of records in borrowed memory and the trailer: byte
// for byte the file PcapWriter or PcapngWriter writes of the same frames,
// however it is read.
func TestFileMatchesWriter(t *testing.T) {
	const snaplen = 300
	st := Stats{Start: time.Unix(1, 0), End: time.Unix(2, 0), Received: 7, Drops: 3, KernelKnown: true}
	pkts := testPackets(500)
	st.Delivered = uint64(len(pkts))
	for _, format := range []string{formatPcap, formatPcapNG} {
		t.Run(format, func(t *testing.T) {
			_, want := writeFile(t, format, 4096, snaplen, pkts)
			wantBytes, err := io.ReadAll(want.NewReader())
			if err != nil {
				t.Fatal(err)
			}
			rf := PcapRecords()
			header := PcapHeader(1, snaplen)
			var trailer []byte
			if format == formatPcapNG {
				rf = EPBRecords(0)
				header = NGHeader([]Interface{{Name: "veth0", LinkType: 1, Snaplen: snaplen}})
				trailer = NGStats(0, st)
			}
			spill := NewBuffer(NewChunkPool(4096, 4))
			if _, err := spill.Write(records(rf, snaplen, pkts[:123])); err != nil {
				t.Fatal(err)
			}
			f := &File{}
			f.Append(header)
			f.AppendBuffer(spill)
			released := 0
			for i := 123; i < len(pkts); i += 50 {
				f.Borrow(records(rf, snaplen, pkts[i:min(i+50, len(pkts))]))
			}
			f.Borrow(nil) // an empty run (a block of frames left out) adds nothing
			f.Append(trailer)
			f.OnRelease(func() { released++ })
			if f.Len() != int64(len(wantBytes)) {
				t.Fatalf("Len = %d, want %d", f.Len(), len(wantBytes))
			}
			d := f.Data()
			got, err := io.ReadAll(d.NewReader())
			if err != nil || !bytes.Equal(got, wantBytes) {
				t.Fatalf("file (%d bytes, %v) differs from the writer's (%d bytes)", len(got), err, len(wantBytes))
			}
			checkReads(t, d, wantBytes)
			path := filepath.Join(t.TempDir(), "out")
			out, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := io.Copy(out, d.NewReader()); err != nil || n != int64(len(wantBytes)) {
				t.Fatalf("io.Copy to a file = %d, %v", n, err)
			}
			out.Close()
			if b, _ := os.ReadFile(path); !bytes.Equal(b, wantBytes) {
				t.Error("the file written (writev) differs")
			}
			pr, _ := readBack(t, format, bytes.NewReader(got))
			if len(pr) != len(pkts) {
				t.Errorf("read back %d packets, want %d", len(pr), len(pkts))
			}
			f.Release()
			if released != 1 {
				t.Errorf("OnRelease ran %d times, want once", released)
			}
			if _, err := d.NewReader().Read(make([]byte, 1)); !errors.Is(err, ErrReleased) {
				t.Errorf("read after Release = %v, want ErrReleased", err)
			}
		})
	}
}

// checkReads reads d at assorted offsets and lengths, with ReadAt, Seek
// and Read, and WriteTo from the middle.
func checkReads(t *testing.T, d *Data, want []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	rd := d.NewReader()
	ra := rd.(io.ReaderAt)
	for range 300 {
		off := r.Int64N(int64(len(want)) + 10)
		p := make([]byte, r.IntN(5000))
		n, err := ra.ReadAt(p, off)
		end := min(off+int64(len(p)), int64(len(want)))
		if off > int64(len(want)) {
			end = off
		}
		if wn := int(end - off); n != wn || !bytes.Equal(p[:n], want[off:end]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d", len(p), off, n, err, wn)
		}
		if (n < len(p)) != (err == io.EOF) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", len(p), off, n, err)
		}
	}
	mid := int64(len(want) / 3)
	if _, err := rd.Seek(mid, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if n, err := rd.(io.WriterTo).WriteTo(&b); err != nil || n != int64(len(want))-mid || !bytes.Equal(b.Bytes(), want[mid:]) {
		t.Fatalf("WriteTo from %d = %d, %v", mid, n, err)
	}
}

// TestWritevManyParts writes a file of more parts than one writev takes,
// into a file and into a pipe, from an offset inside a part.
func TestWritevManyParts(t *testing.T) {
	var want []byte
	f := &File{}
	for i := range 3000 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i%7)
		want = append(want, p...)
		f.Borrow(p)
	}
	d := f.Data()
	rd := d.NewReader()
	if _, err := rd.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rd.(io.WriterTo).WriteTo(out); err != nil || n != int64(len(want)-5) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	out.Close()
	if b, _ := os.ReadFile(path); !bytes.Equal(b, want[5:]) {
		t.Fatal("file differs")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(pr); got <- b }()
	if _, err := d.NewReader().(io.WriterTo).WriteTo(pw); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("pipe got %d bytes, want %d", len(b), len(want))
	}
}

// TestFileReleaseWaitsForReaders: the borrowed memory goes back when the
// last read in progress ends, not while a reader still reads it.
func TestFileReleaseWaitsForReaders(t *testing.T) {
	f := &File{}
	f.Borrow(bytes.Repeat([]byte{1}, 1000))
	f.Borrow(bytes.Repeat([]byte{2}, 1000))
	back := make(chan struct{})
	f.OnRelease(func() { close(back) })
	d := f.Data()
	w := &blockingWriter{entered: make(chan struct{}), proceed: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := d.NewReader().(io.WriterTo).WriteTo(w)
		done <- err
	}()
	<-w.entered
	f.Release()
	select {
	case <-back:
		t.Fatal("memory given back while a reader reads it")
	default:
	}
	close(w.proceed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-back:
	case <-time.After(5 * time.Second):
		t.Fatal("memory not given back after the last reader")
	}
}

// TestFileDetach: a detached File's memory goes back once its Data is
// garbage.
func TestFileDetach(t *testing.T) {
	back := make(chan struct{})
	func() {
		f := &File{}
		f.Borrow([]byte("records"))
		f.OnRelease(func() { close(back) })
		d := f.Detach()
		if b, _ := io.ReadAll(d.NewReader()); string(b) != "records" {
			t.Fatalf("read %q", b)
		}
	}()
	if !testenv.WaitFor(10*time.Second, func() bool {
		runtime.GC()
		select {
		case <-back:
			return true
		default:
			return false
		}
	}) {
		t.Fatal("the memory of a detached File never went back")
	}
}

// TestAppendParts: Append says where the bytes went, across chunks, and a
// File owning the Buffer reads them in the caller's order.
func TestAppendParts(t *testing.T) {
	pool := NewChunkPool(64, 4)
	b := NewBuffer(pool)
	var parts [][]byte
	var want []byte
	for i := range 20 {
		p := bytes.Repeat([]byte{byte('a' + i)}, 7+i*3)
		want = append(want, p...)
		parts = b.Append(parts, p)
	}
	var got []byte
	for _, p := range parts {
		got = append(got, p...)
	}
	if !bytes.Equal(got, want) || b.Len() != int64(len(want)) {
		t.Fatalf("parts hold %q, want %q", got, want)
	}
	f := &File{}
	f.Own(b)
	for i := len(parts) - 1; i >= 0; i-- {
		f.Borrow(parts[i])
	}
	d := f.Data()
	rev, _ := io.ReadAll(d.NewReader())
	if len(rev) != len(want) || !bytes.Equal(rev[len(rev)-len(parts[0]):], parts[0]) {
		t.Fatalf("File read %d bytes in the wrong order", len(rev))
	}
	f.Release()
	if n := idle(pool); n != 4 {
		t.Errorf("pool holds %d idle chunks after Release, want 4 (its limit)", n)
	}
}
