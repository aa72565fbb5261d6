package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"
)

// A reader that is still reading when the capture is released (an HTTP
// transport may read a request body after its round trip returned) keeps
// the chunks until it is done; reads after that fail instead of touching
// memory that was unmapped or handed to another capture.
func TestReleaseWaitsForReaders(t *testing.T) {
	pool := NewChunkPool(HugePageSize, 4)
	buf := NewBuffer(pool)
	payload := bytes.Repeat([]byte{0xab}, HugePageSize+1000) // two chunks
	buf.write(payload)
	d := buf.Data()

	w := &blockingWriter{entered: make(chan struct{}), proceed: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := d.NewReader().(io.WriterTo).WriteTo(w)
		done <- err
	}()
	<-w.entered // WriteTo holds the first chunk in w.Write

	released := make(chan struct{})
	go func() { buf.Release(); close(released) }()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("release blocked behind a reader")
	}
	if n := idle(pool); n != 0 {
		t.Fatalf("pool got %d chunks back while a reader still reads them", n)
	}
	close(w.proceed)
	if err := <-done; err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if !bytes.Equal(w.got.Bytes(), payload) {
		t.Fatalf("reader saw %d bytes, changed or cut; want the %d written", w.got.Len(), len(payload))
	}
	if n := idle(pool); n != 2 {
		t.Errorf("pool holds %d chunks after the last reader, want 2", n)
	}
	if _, err := d.NewReader().Read(make([]byte, 10)); !errors.Is(err, ErrReleased) {
		t.Errorf("read after release: %v, want ErrReleased", err)
	}
}

// Recycled chunks hold the bytes of an earlier capture: the padding of a
// pcapng block written into one must still be zero.
func TestRecycledChunksPadZero(t *testing.T) {
	pool := NewChunkPool(4096, 8)
	dirty := NewBuffer(pool)
	dirty.write(bytes.Repeat([]byte{0xff}, 4096*3))
	dirty.Release()

	buf := NewBuffer(pool)
	w := NewPcapngWriter(buf, 1, 262144, "veth0")
	for size := 42; size < 60; size++ { // every padding length
		w.Packet(int64(size), testFrame(size, 1), size)
	}
	w.Finish(Stats{})
	var raw bytes.Buffer
	if _, err := buf.Data().NewReader().(io.WriterTo).WriteTo(&raw); err != nil {
		t.Fatal(err)
	}
	b := raw.Bytes()
	epbs := 0
	for off := 0; off+12 <= len(b); {
		typ, n := binary.LittleEndian.Uint32(b[off:]), int(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 12 || off+n > len(b) {
			t.Fatalf("block at %d: bad length %d", off, n)
		}
		if typ == ngEPB {
			epbs++
			capLen := int(binary.LittleEndian.Uint32(b[off+20:]))
			for i := off + 28 + capLen; i < off+n-4; i++ {
				if b[i] != 0 {
					t.Fatalf("EPB at %d (caplen %d): padding byte %d is %#x, want 0", off, capLen, i-off, b[i])
				}
			}
		}
		off += n
	}
	if epbs != 18 {
		t.Errorf("found %d EPBs, want 18", epbs)
	}
}

// Mapped chunks beyond the pool's limit go back to the system; what the
// pool keeps is reused.
func TestMappedPoolLimit(t *testing.T) {
	pool := NewChunkPool(HugePageSize, 1)
	cs := [][]byte{pool.get(), pool.get(), pool.get()}
	for _, c := range cs {
		c[0], c[len(c)-1] = 1, 2 // mapped, writable end to end
	}
	pool.put(cs)
	if n := idle(pool); n != 1 {
		t.Fatalf("pool keeps %d chunks, want 1", n)
	}
	if c := pool.get(); &c[0] != &cs[0][0] {
		t.Error("kept chunk not reused")
	}
	pool.Drain()
	if n := idle(pool); n != 0 {
		t.Errorf("drained pool keeps %d chunks", n)
	}
}

func idle(p *ChunkPool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// blockingWriter records what it is given; its first Write waits for
// proceed.
type blockingWriter struct {
	entered, proceed chan struct{}
	got              bytes.Buffer
	first            bool
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if !w.first {
		w.first = true
		close(w.entered)
		<-w.proceed
	}
	return w.got.Write(p)
}

// A mapped pool whose mapping failed hands out heap chunks; dropping one
// must leave it to the garbage collector, never unmap Go memory.
func TestMappedPoolHeapFallbackNotUnmapped(t *testing.T) {
	pool := NewChunkPool(HugePageSize, 0)
	c := make([]byte, HugePageSize)
	pool.heap = map[*byte]struct{}{&c[0]: {}} // as get records a fallback
	pool.put([][]byte{c})
	if len(pool.heap) != 0 {
		t.Errorf("heap chunk still recorded after it was dropped")
	}
	c[0], c[len(c)-1] = 1, 2 // still ours: unmapping it would fault here
}
