//go:build linux

package afpacket

import (
	"errors"
	"net"
	"os"
	"runtime"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// mapping is the address range of a ring, for the cleanup that unmaps it.
type mapping struct {
	addr unsafe.Pointer
	len  uintptr
}

// open implements Open.
func open(ifname string, cfg Config) (*Conn, error) {
	addr := &Addr{Interface: ifname}
	c, err := openConn(ifname, addr, cfg, nil)
	if err != nil {
		return nil, &net.OpError{Op: "open", Net: network, Addr: addr, Err: err}
	}
	return c, nil
}

// openConn opens the handle. With a spare from a Pool (whose geometry
// matches cfg), it takes the spare's socket and ring instead of making
// new ones; the spare is consumed either way.
func openConn(ifname string, addr *Addr, cfg Config, sp *spare) (*Conn, error) {
	s, err := cfg.settings()
	if err != nil {
		if sp != nil {
			sp.release()
		}
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
	var (
		fd       int
		done     bool
		prepared = sp != nil // socket, PACKET_VERSION and ring already done
	)
	if prepared {
		fd = sp.fd
	} else if fd, err = unix.Socket(unix.AF_PACKET, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	defer func() {
		if !done {
			_ = unix.Close(fd)
		}
	}()

	var (
		ifindex     int
		linkType    = LinkTypeLinuxSLL2
		fr          = framingSLL2
		loIfindex   int
		dupsDropped bool
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
			prepared = false // a spare is raw: drop it and build a cooked one
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
			dupsDropped = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1) == nil
		}
	}
	prog := cfg.Filter
	if len(prog) > 0 && fr.headerLen() > 0 {
		if prog, err = cookedProgram(prog, fr); err != nil {
			return nil, err
		}
	}
	if loIfindex != 0 && !dupsDropped {
		// "any" sees loopback's outgoing copies too, and there
		// PACKET_IGNORE_OUTGOING would drop every interface's outgoing
		// frames: the program drops them, so that the kernel counts and
		// queues each frame once (a keeping reader counts a block's
		// frames from its descriptor alone).
		prog, dupsDropped = dropOutgoingOn(prog, loIfindex, s.snaplen)
	}
	if !prepared { // a Pool's spare has it already (see prepare)
		enableTimestamps(fd)
	}
	// The filter goes on before bind(2) either way: on a fresh socket
	// before the ring, on a spare after it. The socket has protocol 0 and
	// has never been bound, so no frame has been queued to it yet.
	kprog := kernelProgram(prog, s.snaplen)
	if err := armFilter(fd, kprog, prepared, sp); err != nil {
		return nil, err
	}
	if !prepared {
		// The ring is mapped at the first read, after the socket is armed
		// (see mapRing), as a Pool's spare is.
		if err := setRing(fd, s); err != nil {
			return nil, err
		}
	}
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
	if prepared {
		sp.armed, sp.used = kprog, true
	}

	// os.NewFile registers the non-blocking socket with the netpoller, so a
	// wait for the next block parks the goroutine, not a thread, and Close
	// or a deadline ends the wait. A socket read only with Keep stays out
	// of it (see Config.KeepOnly): made blocking, os.NewFile leaves it be.
	if cfg.KeepOnly {
		if err := unix.SetNonblock(fd, false); err != nil {
			return nil, os.NewSyscallError("fcntl", err)
		}
	}
	f := os.NewFile(uintptr(fd), "afpacket:"+ifname)
	done = true
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}

	c := &Conn{h: handle{
		ring: ring{
			blockSize: s.blockSize,
			numBlocks: s.numBlocks,
			walker: walker{
				snaplen:   s.snaplen,
				framing:   fr,
				loIfindex: loIfindex,
				match:     cfg.Match,
			},
		},
		f:        f,
		rc:       rc,
		addr:     addr,
		ifindex:  ifindex,
		linkType: linkType,
		woken:    make(chan struct{}, 1),
		timeout:  time.Duration(s.timeoutMS) * time.Millisecond,

		dupsDropped: dupsDropped,
	}}
	h := &c.h
	h.self = c
	h.readyFn = h.pollReady
	h.wakeFn = func() {
		// A deadline in the past ends the netpoller wait at once.
		_ = h.f.SetReadDeadline(time.Unix(1, 0))
		h.woken <- struct{}{}
	}
	return c, nil
}

// armFilter attaches kprog, the program kernelProgram made, to the
// socket. A Pool's spare (prepared) may have a program attached already:
// the same one is kept as it is; another one is detached first, so that
// the two are never charged to the socket's option memory
// (net.core.optmem_max) at once.
func armFilter(fd int, kprog []bpf.RawInstruction, prepared bool, sp *spare) error {
	if prepared && sp.filter != nil {
		if slices.Equal(sp.filter, kprog) {
			return nil
		}
		if err := detachFilter(fd); err != nil {
			return err
		}
	}
	return attachProgram(fd, kprog)
}

// mapped makes mem the handle's ring. The ring's address range stays ours
// until the Conn is garbage: Close replaces the ring with anonymous memory
// rather than unmapping it (see close), and the cleanup registered here
// unmaps whichever is there.
func (h *handle) mapped(mem []byte) {
	h.mem = mem
	cl := runtime.AddCleanup(h.self, func(m mapping) { _ = unix.MunmapPtr(m.addr, m.len) },
		mapping{unsafe.Pointer(&mem[0]), uintptr(len(mem))})
	h.unmap = &cl
}

// mapRing maps the handle's ring on its first read: mapping inserts every
// page of the ring into the process (packet_mmap maps them all at once:
// some 7 ms for 100 MiB, 55-70 ms for 1 GiB), which is better done after
// the socket is armed than before, and which an idle spare of a Pool does
// not need (its pages would count as the daemon's resident memory). The
// kernel fills the ring from bind(2) on, mapped or not.
func (h *handle) mapRing() error {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	if h.mem != nil || h.freed {
		return nil
	}
	if h.closed.Load() {
		return net.ErrClosed
	}
	var (
		mem  []byte
		merr error
	)
	err := h.rc.Control(func(fd uintptr) { mem, merr = mapRing(int(fd), h.blockSize*h.numBlocks) })
	if err == nil {
		err = merr
	}
	if err != nil {
		return err
	}
	h.mapped(mem)
	return nil
}

// enableTimestamps turns SO_TIMESTAMPNS on for fd. With it on any socket
// the kernel stamps every frame once, when it enters the stack
// (net_enable_timestamp), and every packet socket's ring then carries that
// one stamp, where otherwise each ring takes the time it was written at.
// Two captures of one interface (a look-back ring and a live one, the two
// paths of a capture) thus agree on every frame's time. The call costs some
// 0.3 ms (the kernel's timestamp switch), which a Pool pays ahead of time.
func enableTimestamps(fd int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
}

// setRing selects TPACKET_V3 on fd and sets up its receive ring with s's
// geometry. PACKET_RX_RING is the slow step: the kernel allocates the
// ring's memory and waits for an RCU grace period (synchronize_net in
// packet_set_ring), which is what a Pool does ahead of time.
func setRing(fd int, s settings) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return os.NewSyscallError("setsockopt PACKET_VERSION", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(s.blockSize),
		Block_nr:       uint32(s.numBlocks),
		Frame_size:     uint32(s.frameSize),
		Frame_nr:       uint32(s.blockSize / s.frameSize * s.numBlocks),
		Retire_blk_tov: s.timeoutMS,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return os.NewSyscallError("setsockopt PACKET_RX_RING", err)
	}
	return nil
}

// mapRing maps the receive ring of size bytes of fd into memory.
func mapRing(fd, size int) ([]byte, error) {
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return unsafe.Slice((*byte)(p), size), nil
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
