//go:build linux

package afpacket

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A sleeper is the timerfd a keeping reader waits on (Conn.Wait),
// registered with the Go netpoller.
type sleeper struct {
	f    *os.File
	rc   syscall.RawConn
	fire func() // arms the timer to expire at once: ends a wait early
	buf  [8]byte
	err  error // of the last read
}

// sleeper returns the handle's timerfd, made at the first wait.
func (h *handle) sleeper() (*sleeper, error) {
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	if h.sl != nil {
		return h.sl, nil
	}
	if h.closed.Load() {
		return nil, net.ErrClosed
	}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("timerfd_create", err)
	}
	f := os.NewFile(uintptr(fd), "afpacket:timer")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	sl := &sleeper{f: f, rc: rc}
	sl.fire = func() { _ = sl.arm(time.Nanosecond) }
	h.sl = sl
	return sl, nil
}

// arm sets the timer to expire once, d from now.
func (sl *sleeper) arm(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(d, time.Nanosecond).Nanoseconds())}
	var err error
	cerr := sl.rc.Control(func(fd uintptr) { err = rawTimerfdSettime(int(fd), &spec) })
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return os.NewSyscallError("timerfd_settime", err)
	}
	return nil
}

// waitKeep implements Conn.Wait.
func (h *handle) waitKeep(ctx context.Context, d time.Duration) error {
	if h.closed.Load() {
		return h.opError(net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return h.opError(err)
	}
	sl, err := h.sleeper()
	if err != nil {
		return h.opError(err)
	}
	if err := sl.arm(d); err != nil {
		return h.waitError(ctx, err)
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, sl.fire)
	}
	err = sl.rc.Read(func(fd uintptr) bool {
		_, sl.err = rawRead(int(fd), sl.buf[:])
		return !errors.Is(sl.err, unix.EAGAIN)
	})
	if stop != nil {
		stop()
	}
	switch {
	case h.closed.Load():
		return h.opError(net.ErrClosed)
	case ctx.Err() != nil:
		return h.opError(ctx.Err())
	case err != nil:
		return h.opError(err)
	case sl.err != nil:
		return h.opError(os.NewSyscallError("read timerfd", sl.err))
	}
	return nil
}
