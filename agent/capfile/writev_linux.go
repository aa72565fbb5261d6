//go:build linux

package capfile

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// iovMax is IOV_MAX: the most parts one writev(2) takes.
const iovMax = 1024

// writeParts writes parts to w: to a file with writev(2), up to iovMax
// parts per call, so that a file of many runs of records costs few system
// calls; to anything else one Write per part.
func writeParts(w io.Writer, parts [][]byte) (int64, error) {
	f, ok := w.(*os.File)
	if !ok {
		return writeEach(w, parts)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return writeEach(w, parts)
	}
	var total int64
	iov := make([]syscall.Iovec, 0, min(len(parts), iovMax))
	for len(parts) > 0 {
		iov = iov[:0]
		for _, p := range parts[:min(len(parts), iovMax)] {
			v := syscall.Iovec{Base: unsafe.SliceData(p)}
			v.SetLen(len(p))
			iov = append(iov, v)
		}
		var (
			n     uintptr
			errno syscall.Errno
		)
		werr := rc.Write(func(fd uintptr) bool {
			n, _, errno = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(unsafe.SliceData(iov))), uintptr(len(iov)))
			return errno != syscall.EAGAIN
		})
		if werr == nil && errno != 0 {
			werr = os.NewSyscallError("writev", errno)
		}
		if werr != nil {
			return total, &os.PathError{Op: "write", Path: f.Name(), Err: werr}
		}
		if n == 0 {
			return total, io.ErrShortWrite
		}
		total += int64(n)
		// Skip what was written; a short write resumes mid-part.
		for k := int(n); k > 0; {
			if k >= len(parts[0]) {
				k -= len(parts[0])
				parts = parts[1:]
				continue
			}
			parts[0] = parts[0][k:]
			k = 0
		}
	}
	return total, nil
}
