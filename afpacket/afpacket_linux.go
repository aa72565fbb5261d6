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

	// Reader-side wait state (one reader at a time, see Conn).
	readyFn  func(uintptr) bool // preallocated netpoller callback
	wakeFn   func()             // preallocated context.AfterFunc callback
	woken    chan struct{}      // wakeFn's completion
	deadline time.Time          // the read deadline set on f
	armed    bool               // whether deadline is what f has
	polls    int                // readyFn calls in this wait
	sockErr  syscall.Errno      // SO_ERROR readyFn found
	downErr  error              // the interface went down or away: the last error
	timeout  time.Duration      // the ring's block retire timeout

	statsMu sync.Mutex
	total   Stats
	final   bool // total holds the counters read at Close
}

// mapping is the address range of a ring, for the cleanup that unmaps it.
type mapping struct {
	addr unsafe.Pointer
	len  uintptr
}

// open implements Open.
func open(ifname string, cfg Config) (*Conn, error) {
	addr := &Addr{Interface: ifname}
	c, err := openConn(ifname, addr, cfg)
	if err != nil {
		return nil, &net.OpError{Op: "open", Net: network, Addr: addr, Err: err}
	}
	return c, nil
}

func openConn(ifname string, addr *Addr, cfg Config) (*Conn, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	// The socket type follows the link type: Ethernet and header-less
	// links are read raw; anything else, and the "any" pseudo-interface,
	// cooked (SOCK_DGRAM), with a LINUX_SLL or LINUX_SLL2 header built from
	// the kernel's metadata, as libpcap does.
	anyDev := ifname == "any"
	sotype := unix.SOCK_RAW
	if anyDev {
		sotype = unix.SOCK_DGRAM
	}
	// Protocol 0 at socket(2): the socket is not hooked into the receive
	// path until bind(2) names ETH_P_ALL, so no frame is queued before the
	// filter is in place.
	fd, err := unix.Socket(unix.AF_PACKET, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	var (
		mem  []byte
		done bool
	)
	defer func() {
		if done {
			return
		}
		if mem != nil {
			_ = unix.MunmapPtr(unsafe.Pointer(&mem[0]), uintptr(len(mem)))
		}
		_ = unix.Close(fd)
	}()

	var (
		ifindex   int
		linkType  = LinkTypeLinuxSLL2
		fr        = framingSLL2
		loIfindex int
	)
	if anyDev {
		// Loopback's outgoing copies are skipped by index; a namespace
		// without lo just has none.
		loIfindex, _, _ = interfaceInfo(fd, "lo")
	} else {
		var hatype uint16
		ifindex, hatype, err = interfaceInfo(fd, ifname)
		if err != nil {
			return nil, err
		}
		linkType = linkTypeForARPHRD(int(hatype))
		switch linkType {
		case LinkTypeEthernet:
			fr = framingEthernet
		case LinkTypeRaw:
			fr = framingRaw
		default:
			// Reopen cooked: the socket has seen no frame yet.
			fr = framingSLL
			_ = unix.Close(fd)
			fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return nil, os.NewSyscallError("socket", err)
			}
		}
		if hatype == unix.ARPHRD_LOOPBACK {
			loIfindex = ifindex
			// Loopback shows every frame twice, once leaving and once
			// arriving. Ask the kernel not to queue the outgoing copy
			// (Linux 4.20); the ring walk skips it too in case it cannot.
			_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
		}
	}
	prog := cfg.Filter
	if len(prog) > 0 && fr.headerLen() > 0 {
		if prog, err = cookedProgram(prog, fr); err != nil {
			return nil, err
		}
	}
	if err := attachFilter(fd, prog, s.snaplen); err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, os.NewSyscallError("setsockopt PACKET_VERSION", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(s.blockSize),
		Block_nr:       uint32(s.numBlocks),
		Frame_size:     uint32(s.frameSize),
		Frame_nr:       uint32(s.blockSize / s.frameSize * s.numBlocks),
		Retire_blk_tov: s.timeoutMS,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, os.NewSyscallError("setsockopt PACKET_RX_RING", err)
	}
	size := s.blockSize * s.numBlocks
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	mem = unsafe.Slice((*byte)(p), size)

	if cfg.Promiscuous && !anyDev { // "any" has no single device to set promiscuous
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, os.NewSyscallError("setsockopt PACKET_ADD_MEMBERSHIP", err)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}

	// os.NewFile registers the non-blocking socket with the netpoller, so a
	// wait for the next block parks the goroutine, not a thread, and Close
	// or a deadline ends the wait.
	f := os.NewFile(uintptr(fd), "afpacket:"+ifname)
	done = true
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		_ = unix.MunmapPtr(p, uintptr(size))
		return nil, err
	}

	c := &Conn{h: handle{
		ring: ring{
			mem:       mem,
			blockSize: s.blockSize,
			numBlocks: s.numBlocks,
			snaplen:   s.snaplen,
			framing:   fr,
			loIfindex: loIfindex,
			match:     cfg.Match,
		},
		f:        f,
		rc:       rc,
		addr:     addr,
		ifindex:  ifindex,
		linkType: linkType,
		woken:    make(chan struct{}, 1),
		timeout:  time.Duration(s.timeoutMS) * time.Millisecond,
	}}
	h := &c.h
	h.readyFn = func(fd uintptr) bool {
		if h.ready() {
			return true
		}
		h.polls++
		if h.polls == 1 {
			return false // the look before parking
		}
		// Woken with no block: the kernel reports an interface that went
		// down or away (ENETDOWN in sk_err, see packet_notifier) by
		// waking the socket's waiters; anything else is a spurious wake.
		if n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); err == nil && n != 0 {
			h.sockErr = syscall.Errno(n)
			return true
		}
		return false
	}
	h.wakeFn = func() {
		// A deadline in the past ends the netpoller wait at once.
		_ = h.f.SetReadDeadline(time.Unix(1, 0))
		h.woken <- struct{}{}
	}
	// The ring's address range stays ours until the Conn is garbage: Close
	// replaces the ring with anonymous memory rather than unmapping it (see
	// close), and this cleanup unmaps whichever is there.
	runtime.AddCleanup(c, func(m mapping) { _ = unix.MunmapPtr(m.addr, m.len) }, mapping{p, uintptr(size)})
	return c, nil
}

// interfaceInfo returns the index and ARPHRD type of the interface named
// ifname in the calling thread's network namespace (SIOCGIFINDEX,
// SIOCGIFHWADDR; see netdevice(7)).
func interfaceInfo(fd int, ifname string) (int, uint16, error) {
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return 0, 0, errors.New("invalid interface name")
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, 0, ErrNoSuchInterface
		}
		return 0, 0, os.NewSyscallError("ioctl SIOCGIFINDEX", err)
	}
	ifindex := int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(ifname)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, 0, os.NewSyscallError("ioctl SIOCGIFHWADDR", err)
	}
	return ifindex, ifr.Uint16(), nil // sa_family of ifr_hwaddr is the ARPHRD type
}

// htons converts a 16-bit value to network byte order, as sll_protocol wants.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// readPacket implements Conn.ReadPacket.
func (h *handle) readPacket(ctx context.Context, deadline time.Time) (p Packet, err error) {
	for {
		if h.closed.Load() {
			return Packet{}, h.opError(net.ErrClosed)
		}
		for h.left > 0 {
			if h.next(&p) {
				return p, nil
			}
		}
		if h.walking {
			h.release()
		}
		if !h.ready() {
			if err := h.wait(ctx, deadline); err != nil {
				return Packet{}, err
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
// retire timer hands over within one block timeout: wait delivers it, and
// only when no block comes within twice that reports the interface's end.
func (h *handle) wait(ctx context.Context, deadline time.Time) error {
	if err := ctx.Err(); err != nil {
		return h.opError(err)
	}
	draining := false
	if h.downErr != nil {
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
	// The callback runs before every park and after every wake-up; a block
	// handed over between the check above and the park is seen, because the
	// netpoller keeps a readiness event that arrives while nobody waits.
	h.polls = 0
	err := h.rc.Read(h.readyFn)
	if stop != nil && !stop() {
		// wakeFn ran (or is running): let it finish moving the deadline,
		// then have the next wait set the real one again.
		<-h.woken
		h.armed = false
	}
	switch {
	case err == nil && h.sockErr != 0:
		h.downErr = fmt.Errorf("the interface went down or was removed: %w", os.NewSyscallError("poll", h.sockErr))
		h.sockErr = 0
		return h.wait(ctx, deadline) // now draining
	case err == nil:
		return nil
	case draining && errors.Is(err, os.ErrDeadlineExceeded) && !h.closed.Load() && ctx.Err() == nil:
		return h.opError(h.downErr)
	default:
		return h.waitError(ctx, err)
	}
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
	if h.final {
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
		st   *unix.TpacketStatsV3
		serr error
	)
	err := h.rc.Control(func(fd uintptr) {
		st, serr = unix.GetsockoptTpacketStatsV3(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS)
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
func (h *handle) close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	h.statsMu.Lock()
	_ = h.readStats()
	h.final = true
	h.statsMu.Unlock()

	var errs []error
	if err := h.f.Close(); err != nil {
		errs = append(errs, err)
	}
	p := unsafe.Pointer(&h.mem[0])
	_, err := unix.MmapPtr(-1, 0, p, uintptr(len(h.mem)),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
	if err != nil {
		errs = append(errs, os.NewSyscallError("mmap", err))
	}
	if err := errors.Join(errs...); err != nil {
		return &net.OpError{Op: "close", Net: network, Addr: h.addr, Err: err}
	}
	return nil
}
