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

// kernelProgram returns the program the socket of a capture with prog
// and snaplen gets: prog, or with no program and a snaplen below the
// default "ret #snaplen", so that the kernel copies no more than is kept;
// nil for none.
func kernelProgram(prog []bpf.RawInstruction, snaplen int) []bpf.RawInstruction {
	if len(prog) == 0 && snaplen < DefaultSnaplen {
		return []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: uint32(snaplen)}}
	}
	return prog
}

// attachFilter attaches kernelProgram(prog, snaplen) to the socket with
// SO_ATTACH_FILTER (see socket(7)). A program the kernel refuses yields
// an error wrapping ErrFilterRejected.
func attachFilter(fd int, prog []bpf.RawInstruction, snaplen int) error {
	return attachProgram(fd, kernelProgram(prog, snaplen))
}

// attachProgram attaches prog, as it is, with SO_ATTACH_FILTER; an empty
// prog attaches nothing.
func attachProgram(fd int, prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return nil
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

// detachFilter removes the socket's filter (SO_DETACH_FILTER).
func detachFilter(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err != nil {
		return os.NewSyscallError("setsockopt SO_DETACH_FILTER", err)
	}
	return nil
}

// maxProgram is the kernel's limit on a classic BPF program (BPF_MAXINSNS).
const maxProgram = 4096

// dropOutgoingOn returns prog (or, when prog is empty, "ret #snaplen")
// behind a prologue that drops the outgoing frames of the interface with
// index ifindex (SKF_AD_PKTTYPE, SKF_AD_IFINDEX): loopback's outgoing
// copies, on a socket that sees them although PACKET_IGNORE_OUTGOING
// cannot drop them ("any", or a kernel before 4.20). The program's own
// jumps are relative, so it runs unchanged after the prologue, which
// clears A and X as the kernel does before a program. It reports false,
// and returns prog, when the result would be too long for the kernel.
func dropOutgoingOn(prog []bpf.RawInstruction, ifindex, snaplen int) ([]bpf.RawInstruction, bool) {
	if len(prog) == 0 {
		prog = []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: uint32(min(snaplen, math.MaxInt32))}}
	}
	pro := []bpf.RawInstruction{
		{Op: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: skfAdOff + uint32(bpf.ExtType)},
		{Op: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 3, K: unix.PACKET_OUTGOING},
		{Op: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: skfAdOff + uint32(bpf.ExtInterfaceIndex)},
		{Op: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(ifindex)},
		{Op: unix.BPF_RET | unix.BPF_K, K: 0},
		{Op: unix.BPF_LD | unix.BPF_IMM, K: 0},
		{Op: unix.BPF_LDX | unix.BPF_IMM, K: 0},
	}
	if len(pro)+len(prog) > maxProgram {
		return prog, false
	}
	return append(pro, prog...), true
}
