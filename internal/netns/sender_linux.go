//go:build linux

package netns

import (
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendBatch is the most frames one sendmmsg(2) carries.
const sendBatch = 64

// sendTimeout bounds one blocked send (SO_SNDTIMEO).
const sendTimeout = 2 * time.Second

// A Sender transmits raw link-layer frames out of one interface through an
// AF_PACKET socket. It receives nothing: the socket is bound with protocol
// 0, so it is never hooked into the receive path. A Sender may be used from
// several goroutines.
type Sender struct {
	fd      int
	ifindex int
}

// NewSender opens a Sender on the interface with index ifindex in the
// calling thread's network namespace (inside NS.Do for a namespace's
// interface).
func NewSender(ifindex int) (*Sender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netns: sender on ifindex %d: %w", ifindex, os.NewSyscallError("socket", err))
	}
	tv := unix.NsecToTimeval(sendTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netns: sender on ifindex %d: %w", ifindex, os.NewSyscallError("setsockopt SO_SNDTIMEO", err))
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netns: sender on ifindex %d: %w", ifindex, os.NewSyscallError("bind", err))
	}
	return &Sender{fd: fd, ifindex: ifindex}, nil
}

// mmsghdr is struct mmsghdr (sendmmsg(2)).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// Send transmits each frame once, in order, sendBatch frames per
// sendmmsg(2) call. Frames may share memory (a load test sends the same
// slice many times). It returns how many were handed to the driver; a send
// blocked longer than two seconds fails.
func (s *Sender) Send(frames [][]byte) (int, error) {
	var (
		hdrs [sendBatch]mmsghdr
		iovs [sendBatch]unix.Iovec
		sent int
	)
	for sent < len(frames) {
		n := min(len(frames)-sent, sendBatch)
		for i := range n {
			f := frames[sent+i]
			if len(f) == 0 {
				return sent, fmt.Errorf("netns: frame %d is empty", sent+i)
			}
			iovs[i] = unix.Iovec{Base: &f[0]}
			iovs[i].SetLen(len(f))
			hdrs[i] = mmsghdr{}
			hdrs[i].hdr.Iov = &iovs[i]
			hdrs[i].hdr.SetIovlen(1)
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(n), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return sent, fmt.Errorf("netns: send frame %d on ifindex %d: %w", sent, s.ifindex, os.NewSyscallError("sendmmsg", errno))
		}
		sent += int(r)
	}
	return sent, nil
}

// Close closes the Sender's socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }
