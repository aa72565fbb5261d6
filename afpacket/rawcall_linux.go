//go:build linux

package afpacket

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file makes the system calls of a keeping reader's wake-up raw
// (RawSyscall): a system call made the usual way (entersyscall) wakes the
// runtime's monitor thread when it sleeps, and a woken monitor polls every
// 20 µs for about a millisecond before it sleeps again, some 0.2 ms of CPU
// on a VM. These calls never block (a socket option, a non-blocking timer
// descriptor), so the scheduler need not know about them.

// rawGetsockoptInt is getsockopt(2) of an int option.
func rawGetsockoptInt(fd, level, opt int) (int, error) {
	var v int32
	l := uint32(unsafe.Sizeof(v))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return int(v), nil
}

// rawGetsockopt is getsockopt(2) of an option of size bytes at p.
func rawGetsockopt(fd, level, opt int, p unsafe.Pointer, size uintptr) error {
	l := uint32(size)
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawTimerfdSettime is timerfd_settime(2) with relative time.
func rawTimerfdSettime(fd int, spec *unix.ItimerSpec) error {
	_, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(fd), 0, uintptr(unsafe.Pointer(spec)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawRead is read(2) of a non-blocking descriptor.
func rawRead(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
