package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRingSize: a ring holds the whole file of full-size frames (with two
// blocks to spare), in whole blocks of a few sizes, between the least and
// the largest ring.
func TestRingSize(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		p    plan
		want int64
	}{
		// 100 MB of 1514-byte frames: 655 frames of 1530 file bytes per
		// block, 100 blocks, 2 to spare, rounded to 13×8.
		{"100 MB of pcap", plan{packets: noLimitCount, bytes: 100_000_000, snaplen: 262144, format: FormatPcap}, 104 * mib},
		// The daemon's defaults: 50000 frames of 500 bytes.
		{"50000 frames of 500 bytes", plan{packets: 50000, bytes: 100_000_000, snaplen: 500, format: FormatPcap}, 30 * mib},
		{"pcapng", plan{packets: noLimitCount, bytes: 100_000_000, snaplen: 262144, format: FormatPcapNG}, 104 * mib},
		// 300000 frames of at most 1514 bytes (the snap length allows
		// more): 458 blocks, 2 to spare, rounded to 15×32.
		{"300000 packets", plan{packets: 300000, bytes: noLimitCount, snaplen: 262144, format: FormatPcap}, 480 * mib},
		{"tiny: the least ring", plan{packets: 10, bytes: 100_000_000, snaplen: 500, format: FormatPcap}, 8 * mib},
		{"no limit: the largest ring", plan{packets: noLimitCount, bytes: noLimitCount, snaplen: 262144, format: FormatPcap}, 1024 * mib},
	} {
		if got := ringSize(8*mib, 1024*mib, &tc.p); got != tc.want {
			t.Errorf("%s: ring of %d MiB, want %d", tc.name, got/mib, tc.want/mib)
		}
	}
	for _, tc := range []struct{ avail, want int64 }{
		{7 * mib, 0}, {8 * mib, 8 * mib}, {17*mib + 5, 16 * mib}, {18 * mib, 18 * mib}, {100 * mib, 96 * mib}, {1000 * mib, 960 * mib},
	} {
		if got := shrinkRing(8*mib, tc.avail); got != tc.want {
			t.Errorf("shrinkRing(%d) = %d, want %d", tc.avail, got, tc.want)
		}
	}
}

// TestAdmissionShrinksRing: a request whose ring does not fit the memory
// left is admitted with a smaller ring, down to ringsize; the memory
// reserved follows.
func TestAdmissionShrinksRing(t *testing.T) {
	const mib = 1 << 20
	ta := newTestAgent(t, Config{MaxMemory: 200 * mib, RingBytes: 8 * mib, ChunkSize: 2 * mib, MaxPackets: 1 << 40})
	ta.host.block["eth0"], ta.host.block["eth1"], ta.host.block["eth2"] = true, true, true
	// 40 MB: a ring of 44 MiB and 40 MB of chunks (20 of 2 MiB) fit.
	submit(t, ta, `{"node":"any","interface":["eth0"],"packets":10000000,"bytes":40000000,"snap":1500}`)
	if _, mem := ta.Running(); mem != 44*mib+20*2*mib {
		t.Errorf("reserved %d MiB, want 84", mem/mib)
	}
	// Another: 116 MiB are left, 40 MB of chunks need 40 MiB, which leaves
	// the full ring room.
	submit(t, ta, `{"node":"any","interface":["eth1"],"packets":10000000,"bytes":40000000,"snap":1500}`)
	if _, mem := ta.Running(); mem != 168*mib {
		t.Errorf("reserved %d MiB, want 168", mem/mib)
	}
	// A third of 20 MB: 32 MiB left, less 20 MiB of chunks, leave a ring
	// of 12 MiB instead of the one of 22 its limits ask for.
	submit(t, ta, `{"node":"any","interface":["eth2"],"packets":10000000,"bytes":20000000,"snap":1500}`)
	if _, mem := ta.Running(); mem != 200*mib {
		t.Errorf("reserved %d MiB, want 200", mem/mib)
	}
	_, err := ta.Submit(context.Background(), []byte(`{"node":"any","interface":["eth2"],"packets":10,"snap":100}`), "test")
	if !errors.Is(err, ErrNotAdmitted) || !strings.Contains(err.Error(), "of the 209715200 byte budget are in use") {
		t.Errorf("a request past the budget: %v", err)
	}
}
