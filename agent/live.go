package agent

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// liveEvery bounds how old the live packet and byte counters of a running
// capture may be: a session that holds frames it has not published wakes
// within liveEvery of the first of them to publish them. statsEvery is how
// often at most the kernel's counters are read for them (a system call,
// whoever asks), so kernel_drops is at most that old.
const (
	liveEvery  = 500 * time.Millisecond
	statsEvery = time.Second
)

// Live is what GET /v1/captures/{id} shows of a running interface capture:
// its counters so far. Packets and Bytes are as of Updated; KernelDrops is
// read from the socket (PACKET_STATISTICS) at most once a second.
type Live struct {
	Interface   string    `json:"interface"`
	Packets     uint64    `json:"packets"`
	Bytes       uint64    `json:"bytes"` // the file's bytes, headers included (one interface's blocks of a merged file)
	KernelDrops uint64    `json:"kernel_drops"`
	Since       time.Time `json:"since"`   // when the socket was armed
	Updated     time.Time `json:"updated"` // when the session last published Packets and Bytes
}

// liveCounters is the snapshot of its counters that a running session
// publishes for the API. The session's loop owns the writes and makes them
// cheap: it publishes every 64 frames (where it looks at its context) and
// whenever it wakes without a frame, never per frame; a reader takes the
// atomics as they are, on demand. All methods accept a nil receiver (a
// capture outside the request flow has no live counters).
type liveCounters struct {
	iface   string
	packets atomic.Uint64
	bytes   atomic.Uint64
	updated atomic.Int64 // ns since the epoch of the last set; 0 before start
	since   atomic.Int64 // ns since the epoch when the socket was armed; 0 before

	// published is the packet count at the last set, and wake (zero:
	// none yet) liveEvery after the first frame since. Only the session's
	// goroutine reads or writes them.
	published uint64
	wake      time.Time

	mu      sync.Mutex
	stats   func() (afpacket.Stats, error) // the handle's; nil before start
	drops   uint64
	statsAt time.Time // when stats was last called
}

// start records that the session's socket is armed at since, with stats
// reading its kernel counters.
func (l *liveCounters) start(since time.Time, stats func() (afpacket.Stats, error)) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.stats = stats
	l.mu.Unlock()
	l.updated.Store(since.UnixNano())
	l.since.Store(since.UnixNano())
}

// set publishes the session's counters as of atNs (ns since the epoch: the
// last frame's timestamp, or the time of a wake without frames).
func (l *liveCounters) set(packets, bytes uint64, atNs int64) {
	if l == nil {
		return
	}
	l.published, l.wake = packets, time.Time{}
	l.packets.Store(packets)
	l.bytes.Store(bytes)
	l.updated.Store(atNs)
}

// wakeBy returns the deadline of the session's next read: deadline, or
// earlier when frames read since the last set (count of them in all, the
// latest at lastNs) would otherwise wait longer than liveEvery after the
// first of them to be published. On a link too slow to fill 64 frames in
// that time the ring is empty between frames, so a deadline past returns
// at once and the loop publishes; a busier one publishes every 64 frames.
func (l *liveCounters) wakeBy(deadline time.Time, lastNs int64, count uint64) time.Time {
	if l == nil || count == l.published {
		return deadline
	}
	if l.wake.IsZero() {
		l.pending(lastNs)
	}
	if l.wake.Before(deadline) {
		return l.wake
	}
	return deadline
}

// pending records that frames wait to be published since firstNs. It is
// wakeBy's rare path, kept out of it so that wakeBy inlines into the loop.
func (l *liveCounters) pending(firstNs int64) { l.wake = time.Unix(0, firstNs+int64(liveEvery)) }

// read returns the counters as a reader sees them at now; false before the
// socket is armed. The kernel's drop counter is read at most once per
// statsEvery, whoever asks.
func (l *liveCounters) read(now time.Time) (Live, bool) {
	since := l.since.Load()
	if since == 0 {
		return Live{}, false
	}
	lv := Live{
		Interface: l.iface, Packets: l.packets.Load(), Bytes: l.bytes.Load(),
		Since: time.Unix(0, since), Updated: time.Unix(0, l.updated.Load()),
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stats != nil && (l.statsAt.IsZero() || now.Sub(l.statsAt) >= statsEvery) {
		l.statsAt = now
		if st, err := l.stats(); err == nil {
			l.drops = st.Drops
		}
	}
	lv.KernelDrops = l.drops
	return lv, true
}

// readLive reads ls at now: one Live per armed capture.
func readLive(ls []*liveCounters, now time.Time) []Live {
	var out []Live
	for _, l := range ls {
		if lv, ok := l.read(now); ok {
			out = append(out, lv)
		}
	}
	return out
}
