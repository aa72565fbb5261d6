//go:build linux

package agent

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/pcapgo"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/internal/netns"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// stopEtherType marks the numbered frames of TestStopKeepsRingFrames.
const stopEtherType = 0x88b6

// seen is a numbered frame and its kernel timestamp.
type seen struct {
	seq uint32
	ts  int64
}

// numbered returns the sequence number of a frame of stopEtherType.
func numbered(data []byte) (uint32, bool) {
	if len(data) < 18 || binary.BigEndian.Uint16(data[12:]) != stopEtherType {
		return 0, false
	}
	return binary.BigEndian.Uint32(data[14:]), true
}

// observer reads every numbered frame on an interface with a socket of
// its own, opened after the capture's: the kernel hands a frame to the
// newest packet socket first and to the older ones in the same pass, so a
// frame this socket returned is already in the capture's ring.
type observer struct {
	mu     sync.Mutex
	frames []seen
	done   chan struct{}
}

func observe(t *testing.T, iface string) *observer {
	t.Helper()
	c, err := afpacket.Open(iface, afpacket.Config{BlockSize: 1 << 16, NumBlocks: 64, BlockTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	o := &observer{done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-o.done; _ = c.Close() })
	go func() {
		defer close(o.done)
		for {
			p, err := c.ReadPacket(ctx, time.Time{})
			if err != nil {
				return
			}
			if seq, ok := numbered(p.Data); ok {
				o.mu.Lock()
				o.frames = append(o.frames, seen{seq, p.Timestamp})
				o.mu.Unlock()
			}
		}
	}()
	return o
}

func (o *observer) seen() []seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.frames)
}

// TestStopKeepsRingFrames: a capture that is cancelled, or reaches its
// duration, keeps every frame the kernel had put in its ring before the
// stop, those of the block the kernel was still filling (not handed over
// yet) included: on the ring path, and on the copying path (here taken
// for a Packet callback, as for streamed output).
func TestStopKeepsRingFrames(t *testing.T) {
	testenv.RequireRoot(t)
	pair := netns.NewVethPair(t)
	frame := func(seq int) []byte {
		return testenv.EtherFrame(pair.HostMAC, pair.PeerMAC, nil, stopEtherType, uint32(seq), 100)
	}
	cases := []struct {
		name     string
		duration time.Duration
		format   string
		copying  bool
	}{
		{name: "cancel, pcap"},
		{name: "cancel, pcapng", format: FormatPcapNG},
		{name: "duration", duration: 600 * time.Millisecond},
		{name: "copying, cancel", copying: true},
		{name: "copying, duration", duration: 600 * time.Millisecond, copying: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			armed := make(chan struct{})
			type result struct {
				sum  CaptureSummary
				data CaptureData
				err  error
			}
			done := make(chan result, 1)
			go func() {
				spec := CaptureSpec{
					Interface: pair.Host, Filter: "ether proto 0x88b6", RingBytes: 16 << 20, Duration: tc.duration, Format: tc.format,
					Armed: func(CaptureInfo) { close(armed) },
				}
				if tc.copying {
					spec.Packet = func(int64, []byte, int) {}
				}
				sum, data, err := CaptureOnce(ctx, spec)
				done <- result{sum, data, err}
			}()
			select {
			case <-armed:
			case r := <-done:
				t.Fatalf("the capture ended before it armed: %v", r.err)
			}
			obs := observe(t, pair.Host)
			sent := 0
			if tc.duration == 0 {
				// Frames fewer than a ring block holds: none is handed
				// over before the stop but by the block's timeout.
				const n = 60
				var b [][]byte
				for i := range n {
					b = append(b, frame(i))
				}
				if err := pair.Send(b); err != nil {
					t.Fatal(err)
				}
				sent = n
				if !testenv.WaitFor(5*time.Second, func() bool { return len(obs.seen()) == n }) {
					t.Fatalf("the observer saw %d of %d frames", len(obs.seen()), n)
				}
				cancel()
			}
			var r result
		send:
			for deadline := time.Now().Add(10 * time.Second); ; {
				select {
				case r = <-done:
					break send
				default:
				}
				if tc.duration == 0 || time.Now().After(deadline) {
					r = <-done
					break
				}
				// Frames until the duration ends, a few every
				// millisecond or two: the block the kernel fills at the
				// end holds some.
				if err := pair.Send([][]byte{frame(sent), frame(sent + 1)}); err != nil {
					t.Fatal(err)
				}
				sent += 2
				time.Sleep(time.Millisecond) // a sending rate, not a wait
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			file, err := io.ReadAll(r.data.NewReader())
			if err != nil {
				t.Fatal(err)
			}
			got := fileSeqs(t, file, tc.format)
			obsFrames := obs.seen()
			var want []uint32
			end := r.sum.Started.Add(tc.duration).UnixNano()
			for _, f := range obsFrames {
				if tc.duration == 0 || f.ts < end {
					want = append(want, f.seq)
				}
			}
			if tc.duration == 0 && len(want) != sent {
				t.Fatalf("the observer saw %d frames of %d", len(want), sent)
			}
			// Every frame in the ring before the stop is in the file, in
			// order; frames after it may be too.
			if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
				t.Errorf("the file holds %d frames (%s), want the %d in the ring before the stop first; %d sent, stop %s",
					len(got), seqRange(got), len(want), sent, r.sum.StopReason)
			}
			if tc.duration > 0 {
				// And no frame stamped at or after the end, on either path.
				at := map[uint32]int64{}
				for _, f := range obsFrames {
					at[f.seq] = f.ts
				}
				for _, q := range got {
					if ts, ok := at[q]; ok && ts >= end {
						t.Errorf("frame %d, stamped %v after the duration's end, is in the file", q, time.Duration(ts-end))
					}
				}
			}
			if r.sum.Packets != uint64(len(got)) {
				t.Errorf("summary says %d packets, the file holds %d", r.sum.Packets, len(got))
			}
			t.Logf("%d sent, %d before the stop, %d in the file, stop %s", sent, len(want), len(got), r.sum.StopReason)
		})
	}
}

// fileSeqs returns the sequence numbers of the numbered frames in a pcap
// or pcapng file, in file order.
func fileSeqs(t *testing.T, file []byte, format string) []uint32 {
	t.Helper()
	var next func() ([]byte, error)
	if format == FormatPcapNG {
		r, err := pcapgo.NewNgReader(bytes.NewReader(file), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	} else {
		r, err := pcapgo.NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		next = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
	}
	var seqs []uint32
	for {
		d, err := next()
		if err == io.EOF {
			return seqs
		}
		if err != nil {
			t.Fatalf("reading the file after %d frames: %v", len(seqs), err)
		}
		if seq, ok := numbered(d); ok {
			seqs = append(seqs, seq)
		}
	}
}

// seqRange summarizes sequence numbers for a failure message.
func seqRange(s []uint32) string {
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprintf("from %d to %d", s[0], s[len(s)-1])
}
