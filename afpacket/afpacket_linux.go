//go:build linux

package afpacket

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A handle is the Linux state of a Conn: the socket, registered with the Go
// netpoller through an *os.File, and the mapped ring it feeds.
type handle struct {
	ring

	closed   atomic.Bool
	f        *os.File        // the socket, non-blocking, in the netpoller
	rc       syscall.RawConn // f's raw access, for waits and getsockopt
	addr     *Addr           // names the interface in errors
	ifindex  int
	linkType uint32

	// pkt is the frame Next returns (one reader at a time, see Conn).
	pkt Packet

	// Reader-side wait state (one reader at a time, see Conn).
	readyFn  func(uintptr) bool // pollReady, preallocated: the netpoller callback
	wakeFn   func()             // preallocated context.AfterFunc callback
	woken    chan struct{}      // wakeFn's completion
	deadline time.Time          // the read deadline set on f
	armed    bool               // whether deadline is what f has
	sockErr  syscall.Errno      // SO_ERROR pollReady found
	downErr  error              // the interface went down or away: the last error
	stopped  atomic.Bool        // Stop ran: no frame is queued any more, the reader drains the ring
	timeout  time.Duration      // the ring's block retire timeout
	downAt   time.Time          // when a keeping reader learnt of downErr

	// keeping is set by the first Keep: Close then leaves the ring
	// mapped, as the kept blocks are the reader's data (see close).
	keeping atomic.Bool
	// dupsDropped: the kernel drops loopback's outgoing copies
	// (PACKET_IGNORE_OUTGOING, or the filter program on "any").
	dupsDropped bool
	// unmap is the cleanup that unmaps the ring once the Conn is garbage
	// (nil for a ring in ordinary memory, or not mapped yet); Free runs it
	// early. self is the Conn it is registered on.
	unmap *runtime.Cleanup
	self  *Conn
	// sl is the timer a keeping reader waits on (Conn.Wait), made at its
	// first wait.
	sl *sleeper

	statsMu sync.Mutex
	total   Stats
	final   bool // total holds the counters read at Close
	freed   bool // Free gave the ring back
}

// readPacket implements Conn.ReadPacket.
func (h *handle) readPacket(ctx context.Context, deadline time.Time) (Packet, error) {
	p, err := h.nextPacket(ctx, deadline)
	if err != nil {
		return Packet{}, err
	}
	return *p, nil
}

// nextPacket implements Conn.Next: it fills h.pkt in place.
func (h *handle) nextPacket(ctx context.Context, deadline time.Time) (*Packet, error) {
	if h.mem == nil {
		if err := h.mapRing(); err != nil {
			return nil, h.opError(err)
		}
	}
	for {
		if h.closed.Load() {
			return nil, h.opError(net.ErrClosed)
		}
		for h.left > 0 {
			if h.next(&h.pkt) {
				return &h.pkt, nil
			}
		}
		if h.walking {
			h.release()
		}
		if !h.ready() {
			if err := h.wait(ctx, deadline); err != nil {
				return nil, err
			}
		}
		h.open()
	}
}

// wait parks the reader in the netpoller until the kernel hands over block
// cur, the deadline passes, ctx ends or the Conn is closed. It runs once per
// block at most, never per packet.
//
// When the interface goes down or away, the kernel unhooks the socket and
// reports ENETDOWN. The ring may still hold a part-filled block, which the
// retire timer hands over within one block timeout: wait delivers it. It
// reports the interface's end at once, without parking, when the block the
// kernel fills is empty, and otherwise when no block comes within two block
// timeouts.
func (h *handle) wait(ctx context.Context, deadline time.Time) error {
	if err := ctx.Err(); err != nil {
		return h.opError(err)
	}
	draining := false
	if end := h.endErr(); end != nil {
		if h.filling() == 0 {
			return h.opError(end)
		}
		if d := time.Now().Add(2 * h.timeout); deadline.IsZero() || d.Before(deadline) {
			deadline, draining = d, true
		}
	}
	if !h.armed || !deadline.Equal(h.deadline) {
		if err := h.f.SetReadDeadline(deadline); err != nil {
			return h.waitError(ctx, err)
		}
		h.deadline, h.armed = deadline, true
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, h.wakeFn)
	}
	// pollReady runs before every park and after every wake-up. Starting
	// the wait drops a readiness event the netpoller kept while nobody
	// waited, so the look before parking must find by itself anything
	// that came in between: a block (its status word) or the interface's
	// loss (sk_err, kept until SO_ERROR reads it). What comes after that
	// look wakes the park.
	err := h.rc.Read(h.readyFn)
	if stop != nil && !stop() {
		// wakeFn ran (or is running): let it finish moving the deadline,
		// then have the next wait set the real one again.
		<-h.woken
		h.armed = false
	}
	switch {
	case err == nil && h.sockErr != 0:
		h.setDown()
		return h.wait(ctx, deadline) // now draining
	case err == nil:
		return nil
	case h.closed.Load() || ctx.Err() != nil:
		return h.waitError(ctx, err)
	case errors.Is(err, os.ErrDeadlineExceeded) && !draining:
		return h.opError(os.ErrDeadlineExceeded)
	}
	// The draining deadline passed, or the netpoller failed the wait (it
	// reports an event of EPOLLERR alone as "not pollable"; the socket's
	// own error then says what happened). A block that came meanwhile, or
	// whose wake-up was late on a loaded machine, is delivered first.
	if h.downErr == nil && h.takeSockErr() {
		h.setDown()
	}
	end := h.endErr()
	if end == nil {
		return h.opError(err)
	}
	if h.ready() {
		return nil
	}
	return h.opError(end)
}

// endErr is why no more blocks will come once the ring is drained: the
// interface's loss, or Stop (ErrStopped); nil while frames may come.
func (h *handle) endErr() error {
	if h.downErr != nil {
		return h.downErr
	}
	if h.stopped.Load() {
		return ErrStopped
	}
	return nil
}

// setDown records the socket error pollReady found as the interface's loss.
func (h *handle) setDown() {
	h.downErr = fmt.Errorf("the interface went down or was removed: %w", os.NewSyscallError("poll", h.sockErr))
	h.sockErr = 0
}

// pollReady is the netpoller callback of wait: it reports true when block
// cur is the reader's, or when the socket has an error (ENETDOWN, set by
// packet_notifier when the interface goes down or away), which it moves
// to h.sockErr. It reads SO_ERROR at every look that finds no block, the
// one before parking included: the kernel's wake-up for the error may
// have come and gone before the wait began (see wait). That is one
// getsockopt per park, never per packet.
func (h *handle) pollReady(fd uintptr) bool {
	if h.ready() {
		return true
	}
	if h.downErr != nil {
		return false // already known; sk_err was cleared by reading it
	}
	return h.sockErrFd(int(fd))
}

// sockErrFd reads and clears the socket's pending error (SO_ERROR) into
// h.sockErr and reports whether there was one.
func (h *handle) sockErrFd(fd int) bool {
	n, err := rawGetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil || n == 0 {
		return false
	}
	h.sockErr = syscall.Errno(n)
	return true
}

// takeSockErr is sockErrFd outside the netpoller callback.
func (h *handle) takeSockErr() bool {
	var found bool
	if err := h.rc.Control(func(fd uintptr) { found = h.sockErrFd(int(fd)) }); err != nil {
		return false
	}
	return found
}

// waitError turns an error of the netpoller wait into the one ReadPacket
// returns, in order of precedence: closed, ctx ended, deadline passed.
func (h *handle) waitError(ctx context.Context, err error) error {
	switch {
	case h.closed.Load():
		return h.opError(net.ErrClosed)
	case ctx.Err() != nil:
		return h.opError(ctx.Err())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return h.opError(os.ErrDeadlineExceeded)
	default:
		return h.opError(err)
	}
}

func (h *handle) opError(err error) error {
	return &net.OpError{Op: "read", Net: network, Addr: h.addr, Err: err}
}

// stats implements Conn.Stats.
func (h *handle) stats() (Stats, error) {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	if h.final || h.rc == nil { // closed, or a ring in memory (no socket)
		return h.total, nil
	}
	if err := h.readStats(); err != nil {
		if h.closed.Load() {
			return h.total, nil
		}
		return h.total, &net.OpError{Op: "stats", Net: network, Addr: h.addr, Err: err}
	}
	return h.total, nil
}

// readStats adds the kernel's counters since the last read to h.total
// (getsockopt PACKET_STATISTICS resets them). h.statsMu must be held.
func (h *handle) readStats() error {
	var (
		st   unix.TpacketStatsV3
		serr error
	)
	// Raw: a keeping reader reads the counters at every wake-up (see
	// rawcall_linux.go).
	err := h.rc.Control(func(fd uintptr) {
		serr = rawGetsockopt(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS, unsafe.Pointer(&st), unsafe.Sizeof(st))
	})
	if err != nil {
		return err
	}
	if serr != nil {
		return os.NewSyscallError("getsockopt PACKET_STATISTICS", serr)
	}
	h.total.Packets += uint64(st.Packets)
	h.total.Drops += uint64(st.Drops)
	h.total.QueueFreezes += uint64(st.Freeze_q_cnt)
	return nil
}

// close implements Conn.Close. It closes the socket, which wakes a reader
// parked in the netpoller and waits for it to leave the wait, then replaces
// the ring mapping with anonymous memory: that drops the kernel's ring at
// once, while a reader that is still walking a block (Close may run in any
// goroutine, and the walk takes no lock) reads zeros instead of faulting.
// The address range itself is unmapped when the Conn becomes garbage.
//
// A keeping reader's ring stays mapped: its kept blocks are its data,
// until Free or the Conn becomes garbage. Closing the socket unhooks it
// from the interface, so nothing writes to the ring any more.
func (h *handle) close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	if h.rc != nil {
		_ = h.readStats()
	}
	h.final = true

	var errs []error
	if h.f != nil {
		if err := h.f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if h.sl != nil {
		_ = h.sl.f.Close() // wakes a Wait
	}
	if h.unmap != nil && h.mem != nil && !h.keeping.Load() {
		p := unsafe.Pointer(&h.mem[0])
		_, err := unix.MmapPtr(-1, 0, p, uintptr(len(h.mem)),
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
		if err != nil {
			errs = append(errs, os.NewSyscallError("mmap", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &net.OpError{Op: "close", Net: network, Addr: h.addr, Err: err}
	}
	return nil
}
