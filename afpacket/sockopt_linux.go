//go:build linux

package afpacket

import (
	"errors"
	"fmt"
	"math"
	"os"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// attachFilter attaches prog to the socket with SO_ATTACH_FILTER (see
// socket(7)). With no program and a snaplen below the default it attaches
// "ret #snaplen" so that the kernel copies no more than is kept. A program
// the kernel refuses yields an error wrapping ErrFilterRejected.
func attachFilter(fd int, prog []bpf.RawInstruction, snaplen int) error {
	if len(prog) == 0 {
		if snaplen >= DefaultSnaplen {
			return nil
		}
		prog = []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: uint32(snaplen)}}
	}
	if len(prog) > math.MaxUint16 {
		return fmt.Errorf("%w: %d instructions", ErrFilterRejected, len(prog))
	}
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOMEM), errors.Is(err, unix.E2BIG):
		// EINVAL: the checker refused the program (backward or
		// out-of-range jump, bad opcode, too long); ENOMEM: larger than
		// net.core.optmem_max allows.
		return fmt.Errorf("%w: %w", ErrFilterRejected, os.NewSyscallError("setsockopt SO_ATTACH_FILTER", err))
	default:
		return os.NewSyscallError("setsockopt SO_ATTACH_FILTER", err)
	}
}
