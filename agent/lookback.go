package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"golang.org/x/net/bpf"
)

// This file is the look-back rings' set (Lookback): one always-open capture
// per configured interface whose ring blocks hold the most recent traffic,
// so that a request with "lookback" gets the frames from before it came
// (lookback_ring.go keeps a ring, lookback_serve.go copies its frames out,
// lookback_session.go puts them in front of a capture's own).

// DefaultMaxLookback is the most seconds of history a request may ask for
// when Config.MaxLookback is zero.
const DefaultMaxLookback = 300 * time.Second

// LookbackConfig is one look-back ring: an always-open capture on
// Interface whose ring holds at least the most recent Bytes of its
// traffic (frames as the kernel lays them out in the ring, cut to
// Snaplen, with their ring headers). The ring itself is larger
// (LookbackRingBytes): the kernel needs a quarter of it free at all
// times.
type LookbackConfig struct {
	Interface string
	Bytes     int64
	// Snaplen is the most bytes of each frame kept (0: DefaultSnaplen).
	Snaplen int
	// Filter is a pcap-filter expression compiled for the interface and
	// attached to the ring's socket: only what it keeps is held ("":
	// every frame).
	Filter string
}

// LookbackError is a look-back ring that cannot be set up as configured:
// its filter does not compile for the interface. Field is "filter".
type LookbackError struct {
	Interface string
	Field     string
	Err       error
}

func (e *LookbackError) Error() string {
	return fmt.Sprintf("look-back ring on %s: %s: %v", e.Interface, e.Field, e.Err)
}

// Unwrap returns Err.
func (e *LookbackError) Unwrap() error { return e.Err }

// Ring geometry of a look-back ring.
const (
	// lookbackTimeout is the block retire timeout. A block holds frames
	// up to its hand-over or this long after its first one, whichever
	// comes first: a quiet link retires blocks part filled, so the
	// history a ring holds there is about its blocks times this; and a
	// request waits up to about twice this for the block that is being
	// filled when it comes (see lookbackRing.ready).
	lookbackTimeout = 50 * time.Millisecond
	// minLookbackBlock and maxLookbackBlock bound the block size: small
	// blocks hold more history on a quiet link (more blocks), a block
	// must hold two of the largest frames, and a ring of many blocks
	// costs a descriptor read per block, nothing per frame.
	minLookbackBlock = 32 << 10
	maxLookbackBlock = 1 << 20
	// maxLookbackBlocks is the most blocks a ring is cut into: larger
	// rings get larger blocks.
	maxLookbackBlocks = 16384
	// minLookbackHeld is the fewest blocks a ring holds.
	minLookbackHeld = 8
)

// lookbackGeometry is a look-back ring's shape: blocks of blockSize
// bytes, of which at most held are kept; the rest stays free for the
// kernel.
type lookbackGeometry struct {
	blockSize int
	blocks    int
	held      int
}

// geometryOf returns the ring of c: held blocks for c.Bytes, and as many
// more as the kernel needs free. The kernel looks, without its lock, at
// the block a quarter of the ring ahead of the one it fills whenever it
// hands a block over, and drops the frame at hand when that block is
// still kept (__packet_rcv_has_room); the reader frees the oldest blocks
// when it wakes, so between two wake-ups the kernel may fill margin
// blocks (an eighth of the ring, at least 4) and still find a quarter
// free. The margin sets how often the reader must wake at a given rate,
// and a wake-up, not the blocks, is most of what a ring costs: an eighth
// (the ring about 1.6 times the history it holds) keeps a 64 MiB ring
// under 2 % of a core at 100,000 frames a second (about 10 wake-ups a
// second at 500-byte snaps).
func geometryOf(c LookbackConfig) lookbackGeometry {
	snap := c.Snaplen
	if snap <= 0 {
		snap = DefaultSnaplen
	}
	bs := minLookbackBlock
	// Two of the largest frames (a frame's place: its headers, up to 96
	// bytes before a cooked header, and its data) per block.
	for bs < maxLookbackBlock && (bs < 2*(snap+128) || int64(bs)*maxLookbackBlocks < c.Bytes) {
		bs *= 2
	}
	held := max(minLookbackHeld, int((c.Bytes+int64(bs)-1)/int64(bs)))
	n := max(held, held*8/5-2)
	for n-n/4-lookbackMargin(n) < held {
		n++
	}
	return lookbackGeometry{blockSize: bs, blocks: n, held: n - n/4 - lookbackMargin(n)}
}

// lookbackMargin is the blocks the kernel may fill between two looks of
// a ring of n blocks (see geometryOf).
func lookbackMargin(n int) int { return max(4, n/8) }

// LookbackRingBytes returns the memory the look-back ring of c takes:
// all its blocks, those kept free for the kernel included. It is what
// the ring is charged against the memory budget.
func LookbackRingBytes(c LookbackConfig) int64 {
	g := geometryOf(c)
	return int64(g.blockSize) * int64(g.blocks)
}

// LookbackStatus is what a look-back ring holds now.
type LookbackStatus struct {
	Interface string
	// Open reports whether the ring captures: false while its interface
	// is down or absent (Error says why).
	Open bool
	// RingBytes is the ring's memory (LookbackRingBytes).
	RingBytes int64
	// Bytes is the bytes of the blocks it holds (frames with their ring
	// headers), Packets their frames.
	Bytes   int64
	Packets int64
	// Oldest and Newest are the times of the oldest and newest frames it
	// holds (zero when it holds none).
	Oldest, Newest time.Time
	// Drops are the frames the kernel dropped for want of a free block
	// since the ring was opened.
	Drops uint64
	Error string
}

// Seconds returns the time span the ring holds.
func (s LookbackStatus) Seconds() float64 {
	if s.Oldest.IsZero() || s.Newest.Before(s.Oldest) {
		return 0
	}
	return s.Newest.Sub(s.Oldest).Seconds()
}

// lookbackConn is what a look-back ring needs of its capture handle: an
// *afpacket.Conn read by keeping its blocks.
type lookbackConn interface {
	Keep(dst []afpacket.Block) ([]afpacket.Block, error)
	Release(n int)
	Filling() int
	Walk(b afpacket.Block, fn func(*afpacket.Packet) bool)
	Wait(ctx context.Context, d time.Duration) error
	Stats() (afpacket.Stats, error)
	LinkType() uint32
	Free() error
}

// LookbackOptions configure a Lookback. Zero fields take the defaults
// named beside them.
type LookbackOptions struct {
	// Log receives the rings' events: opened, closed with their
	// interface, reopened (default: discard).
	Log *slog.Logger
	// Promiscuous puts the interfaces in promiscuous mode for the rings'
	// life.
	Promiscuous bool
	// Poll is how often a ring whose interface is gone looks for it
	// (default 2 s).
	Poll time.Duration
}

// Lookback is the set of look-back rings of an agent (WithLookback): it
// opens one ring per LookbackConfig (Apply), keeps each open while its
// interface is there and reopens it when the interface comes back, and
// copies out the frames a request asks for. It is safe for concurrent
// use.
type Lookback struct {
	log     *slog.Logger
	promisc bool
	poll    time.Duration
	clock   Clock
	open    func(ifname string, cfg afpacket.Config) (lookbackConn, error)
	present func(ifname string) bool
	lookup  InterfaceLookup
	compile Compiler

	mu     sync.Mutex
	rings  map[string]*lookbackRing
	closed bool
}

// NewLookback returns an empty set of look-back rings.
func NewLookback(o LookbackOptions) *Lookback {
	lb := &Lookback{
		log: o.Log, promisc: o.Promiscuous, poll: o.Poll, clock: systemClock{},
		open: func(ifname string, cfg afpacket.Config) (lookbackConn, error) {
			c, err := afpacket.Open(ifname, cfg)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return c, nil
		},
		present: interfaceUp,
		lookup:  LookupInterface,
		compile: defaultCompiler,
		rings:   map[string]*lookbackRing{},
	}
	if lb.log == nil {
		lb.log = slog.New(slog.DiscardHandler)
	}
	if lb.poll <= 0 {
		lb.poll = 2 * time.Second
	}
	return lb
}

// interfaceUp reports whether the interface named ifname exists and is up
// ("any" always is).
func interfaceUp(ifname string) bool {
	if ifname == anyInterface {
		return true
	}
	ifi, err := net.InterfaceByName(ifname)
	return err == nil && ifi.Flags&net.FlagUp != 0
}

// Apply makes the rings those of cfgs: it opens the rings of interfaces
// not in the set yet, closes those no longer in cfgs, and reopens a ring
// whose settings changed (its history goes with it). A ring whose
// interface is absent or down is opened when the interface comes up. The
// filters of present interfaces are compiled first: one that does not
// compile fails Apply with a *LookbackError and nothing changes. Apply
// returns once every new ring has tried to open.
func (lb *Lookback) Apply(cfgs []LookbackConfig) error {
	if err := lb.Check(cfgs); err != nil {
		return err
	}
	lb.mu.Lock()
	if lb.closed {
		lb.mu.Unlock()
		return errors.New("look-back rings: closed")
	}
	var stop, start []*lookbackRing
	for name, r := range lb.rings {
		i := slices.IndexFunc(cfgs, func(c LookbackConfig) bool { return c.Interface == name })
		if i < 0 || cfgs[i] != r.cfg {
			stop = append(stop, r)
			delete(lb.rings, name)
		}
	}
	for _, c := range cfgs {
		if _, ok := lb.rings[c.Interface]; !ok {
			r := newLookbackRing(lb, c)
			lb.rings[c.Interface] = r
			start = append(start, r)
		}
	}
	lb.mu.Unlock()
	for _, r := range stop {
		r.stop()
		lb.log.Info("look-back ring closed: no longer configured, or reconfigured", "interface", r.cfg.Interface)
	}
	for _, r := range start {
		r.start()
	}
	for _, r := range start {
		<-r.tried
	}
	return nil
}

// Check reports what Apply would refuse in cfgs, without opening
// anything: an interface configured twice, a filter that does not compile
// for its interface as it is now (*LookbackError values, joined).
func (lb *Lookback) Check(cfgs []LookbackConfig) error {
	var errs []error
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.Interface] {
			errs = append(errs, &LookbackError{Interface: c.Interface, Field: "interface", Err: errors.New("configured twice")})
			continue
		}
		seen[c.Interface] = true
		if _, err := lb.program(c); err != nil && !errors.Is(err, errNoInterface) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errNoInterface is program's error for an interface the host lacks now.
var errNoInterface = errors.New("no such interface")

// program compiles c's filter for its interface as it is now: nil for no
// filter.
func (lb *Lookback) program(c LookbackConfig) ([]bpf.RawInstruction, error) {
	expr := strings.TrimSpace(c.Filter)
	if expr == "" {
		return nil, nil
	}
	info, err := lb.lookup(c.Interface)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoInterface, err)
	}
	snap := c.Snaplen
	if snap <= 0 {
		snap = DefaultSnaplen
	}
	prog, err := lb.compile(expr, bpfcompile.Options{
		LinkType: bpfcompile.LinkType(info.LinkType), Snaplen: snap, Netmask: info.Netmask, Live: true,
	})
	if err == nil && len(prog) > maxBPFInsns {
		err = fmt.Errorf("program has %d instructions, the kernel's limit is %d", len(prog), maxBPFInsns)
	}
	if err != nil {
		return nil, &LookbackError{Interface: c.Interface, Field: "filter", Err: fmt.Errorf("%s (link type %d)", filterError(err), info.LinkType)}
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, &LookbackError{Interface: c.Interface, Field: "filter", Err: err}
	}
	return raw, nil
}

// Close closes every ring and waits for them. Later Applies fail.
func (lb *Lookback) Close() {
	lb.mu.Lock()
	lb.closed = true
	rings := lb.rings
	lb.rings = map[string]*lookbackRing{}
	lb.mu.Unlock()
	for _, r := range rings {
		r.stop()
	}
}

// has reports whether a ring is configured on ifname.
func (lb *Lookback) has(ifname string) bool {
	if lb == nil {
		return false
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	_, ok := lb.rings[ifname]
	return ok
}

// ring returns the ring on ifname, or nil.
func (lb *Lookback) ring(ifname string) *lookbackRing {
	if lb == nil {
		return nil
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.rings[ifname]
}

// Memory returns the memory of the configured rings, charged against the
// agent's budget (Config.MaxMemory).
func (lb *Lookback) Memory() int64 {
	if lb == nil {
		return 0
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var n int64
	for _, r := range lb.rings {
		n += LookbackRingBytes(r.cfg)
	}
	return n
}

// Status returns what each ring holds now, by interface name.
func (lb *Lookback) Status() []LookbackStatus {
	if lb == nil {
		return nil
	}
	lb.mu.Lock()
	rings := make([]*lookbackRing, 0, len(lb.rings))
	for _, r := range lb.rings {
		rings = append(rings, r)
	}
	lb.mu.Unlock()
	out := make([]LookbackStatus, 0, len(rings))
	for _, r := range rings {
		out = append(out, r.status())
	}
	slices.SortFunc(out, func(a, b LookbackStatus) int { return strings.Compare(a.Interface, b.Interface) })
	return out
}

// WithLookback has the agent serve "lookback" from lb's rings and charge
// their memory against Config.MaxMemory. The caller keeps lb's rings as
// the configuration says (Apply) and closes them after the agent's
// shutdown.
func WithLookback(lb *Lookback) Option { return func(a *Agent) { a.lookback = lb } }
