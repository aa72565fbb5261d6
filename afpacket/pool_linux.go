//go:build linux

package afpacket

import (
	"context"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// A spare is a prepared socket: AF_PACKET, SOCK_RAW, protocol 0, never
// bound, with PACKET_VERSION TPACKET_V3 and its receive ring set up. Protocol 0 and no bind(2) mean it is hooked into no receive path,
// so nothing is ever queued to it while it waits.
//
// It may also have a filter attached already: the program the last open
// of its geometry attached, which the next one is likely to attach again
// (requests repeated by an alert rule). Attaching a classic program costs
// the kernel its checks, a conversion and a JIT compilation (some 100 µs,
// over a millisecond now and then on a busy VM); an open whose program is
// the spare's has nothing left to do, any other replaces it (openConn).
//
// The ring is not mapped into the process until the Conn made of the
// spare first reads it: an idle spare's memory is the kernel's, not part
// of the daemon's resident set.
type spare struct {
	fd     int
	netns  uint64               // inode of the network namespace the socket lives in
	filter []bpf.RawInstruction // the program attached to the socket (nil: none)
	// armed and used are set by openConn when the socket became the
	// Conn (not when a cooked one replaced it): the program it is armed
	// with, for the spares made after it.
	armed []bpf.RawInstruction
	used  bool
}

// release closes the spare's socket, which frees its ring.
func (sp *spare) release() {
	_ = unix.Close(sp.fd)
}

// geometry is what a spare's ring was set up with; a spare serves only an
// Open whose Config has the same.
type geometry struct {
	blockSize, numBlocks, frameSize int
	timeoutMS                       uint32
}

func (s settings) geometry() geometry {
	return geometry{s.blockSize, s.numBlocks, s.frameSize, s.timeoutMS}
}

// refillDelay is how long the refill waits after a spare was taken.
const refillDelay = 20 * time.Millisecond

// maxGeometries bounds how many ring geometries a Pool keeps spares for;
// an Open with a geometry beyond that is served the slow way.
const maxGeometries = 4

// poolState is the Linux part of a Pool.
type poolState struct {
	spares int
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	hits atomic.Int64 // opens served by a spare

	mu     sync.Mutex
	closed bool
	want   []geometry            // geometries to keep spares for, at most maxGeometries
	free   map[geometry][]*spare // prepared sockets per geometry
	// filters are the programs the last pooled open of each geometry
	// armed its socket with; the spares made next have them attached.
	filters map[geometry][]bpf.RawInstruction
}

func newPool(ctx context.Context, spares int, cfgs []Config) (*Pool, error) {
	if spares <= 0 {
		spares = 1
	}
	p := &Pool{st: poolState{
		spares: spares,
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		free:   make(map[geometry][]*spare),

		filters: make(map[geometry][]bpf.RawInstruction),
	}}
	for _, c := range cfgs {
		s, err := c.settings()
		if err != nil {
			return nil, err
		}
		p.st.addGeometry(s.geometry())
	}
	ctx, p.st.cancel = context.WithCancel(ctx)
	go p.st.refill(ctx)
	p.st.poke()
	return p, nil
}

// addGeometry records g as wanted; the caller holds mu or owns st alone.
func (st *poolState) addGeometry(g geometry) {
	for _, w := range st.want {
		if w == g {
			return
		}
	}
	if len(st.want) < maxGeometries {
		st.want = append(st.want, g)
	}
}

// poke asks the refill goroutine to top the pool up.
func (st *poolState) poke() {
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// refill is the Pool's one goroutine: on every poke it prepares spares
// until each wanted geometry has st.spares of them. It runs on a locked
// thread so that the namespace it records is the one the socket is in.
func (st *poolState) refill(ctx context.Context) {
	defer close(st.done)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.kick:
		}
		// The open that took a spare is arming its socket: setting up
		// the next ring (the kernel allocates and zeroes its memory,
		// milliseconds of CPU for a ring of tens of MiB) waits until it
		// is done rather than compete with it.
		select {
		case <-ctx.Done():
			return
		case <-time.After(refillDelay):
		}
		for ctx.Err() == nil {
			st.mu.Lock()
			var g geometry
			found := false
			for _, w := range st.want {
				if len(st.free[w]) < st.spares {
					g, found = w, true
					break
				}
			}
			filter := st.filters[g]
			st.mu.Unlock()
			if !found {
				break
			}
			sp, err := prepare(g, filter)
			if err != nil {
				// No privilege or no memory: Open falls back to the slow
				// path; try again on the next poke.
				break
			}
			st.mu.Lock()
			if st.closed {
				st.mu.Unlock()
				sp.release()
				return
			}
			st.free[g] = append(st.free[g], sp)
			st.mu.Unlock()
		}
	}
}

// prepare makes one spare with geometry g in the calling thread's
// namespace, with filter attached when the kernel takes it.
func prepare(g geometry, filter []bpf.RawInstruction) (*spare, error) {
	ns, err := threadNetns()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	enableTimestamps(fd)
	if err := setRing(fd, settings{blockSize: g.blockSize, numBlocks: g.numBlocks, frameSize: g.frameSize, timeoutMS: g.timeoutMS}); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	sp := &spare{fd: fd, netns: ns}
	if attachProgram(fd, filter) == nil { // refused: the open attaches its own
		sp.filter = filter
	}
	return sp, nil
}

// threadNetns returns the inode of the calling thread's network namespace.
func threadNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, os.NewSyscallError("stat /proc/thread-self/ns/net", err)
	}
	return st.Ino, nil
}

// take removes and returns a spare for s's geometry in namespace ns, or nil.
// It records the geometry as wanted; the caller pokes the refill.
func (st *poolState) take(s settings, ns uint64) *spare {
	g := s.geometry()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil
	}
	st.addGeometry(g)
	l := st.free[g]
	for i, sp := range l {
		if sp.netns == ns {
			st.free[g] = append(l[:i:i], l[i+1:]...)
			st.hits.Add(1)
			return sp
		}
	}
	return nil
}

func (p *Pool) open(ifname string, cfg Config) (*Conn, error) {
	s, err := cfg.settings()
	if ifname == "any" || err != nil {
		return open(ifname, cfg) // cooked, or an error to report
	}
	// The namespace is the calling thread's: keep the goroutine on it
	// from the check to the bind.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := threadNetns()
	if err != nil {
		return open(ifname, cfg)
	}
	sp := p.st.take(s, ns)
	// The poke wakes the refill's thread (a futex call, tens of µs on a
	// busy VM): after the socket is armed, not before. The refill waits
	// refillDelay anyway.
	defer p.st.poke()
	if sp == nil {
		return open(ifname, cfg)
	}
	addr := &Addr{Interface: ifname}
	c, err := openConn(ifname, addr, cfg, sp)
	if err != nil {
		return nil, &net.OpError{Op: "open", Net: network, Addr: addr, Err: err}
	}
	if sp.used {
		p.st.remember(s.geometry(), sp.armed)
	}
	return c, nil
}

// remember records prog as the program the next spares of g get attached.
func (st *poolState) remember(g geometry, prog []bpf.RawInstruction) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || slices.Equal(st.filters[g], prog) {
		return
	}
	st.filters[g] = slices.Clone(prog)
}

func (p *Pool) close() error {
	p.st.mu.Lock()
	if p.st.closed {
		p.st.mu.Unlock()
		<-p.st.done
		return nil
	}
	p.st.closed = true
	free := p.st.free
	p.st.free = nil
	p.st.mu.Unlock()
	p.st.cancel()
	<-p.st.done
	for _, l := range free {
		for _, sp := range l {
			sp.release()
		}
	}
	return nil
}

// spareCount returns the number of spares the pool holds (for tests).
func (p *Pool) spareCount() int {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	n := 0
	for _, l := range p.st.free {
		n += len(l)
	}
	return n
}

func (p *Pool) ready(cfg Config) bool {
	s, err := cfg.settings()
	if err != nil {
		return false
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns, err := threadNetns()
	if err != nil {
		return false
	}
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	for _, sp := range p.st.free[s.geometry()] {
		if sp.netns == ns {
			return true
		}
	}
	return false
}
