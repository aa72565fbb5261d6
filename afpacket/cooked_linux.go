//go:build linux

package afpacket

import (
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// cookedProgram rewrites prog, compiled for frames that start with f's
// cooked header, for the kernel, which runs it on a cooked socket's frame
// without that header (see packet(7)): loads past the header move back by
// its length, and loads of the header's protocol, packet type and interface
// index fields become the kernel's ancillary loads (SKF_AD_PROTOCOL,
// SKF_AD_PKTTYPE, SKF_AD_IFINDEX). A load of any other header field has no
// kernel equivalent: the program then fails with ErrFilterRejected and the
// caller filters in user space. prog itself is not modified.
func cookedProgram(prog []bpf.RawInstruction, f framing) ([]bpf.RawInstruction, error) {
	hl := uint32(f.headerLen())
	out := make([]bpf.RawInstruction, len(prog))
	copy(out, prog)
	for i := range out {
		ins := &out[i]
		class, mode := ins.Op&0x07, ins.Op&0xe0
		if class != unix.BPF_LD && class != unix.BPF_LDX {
			continue
		}
		if mode != unix.BPF_ABS && mode != unix.BPF_IND && mode != unix.BPF_MSH {
			continue
		}
		k := ins.K
		switch {
		case k >= skfAdOff || int32(k) < 0:
			continue // already ancillary, or a negative (SKF_NET_OFF, SKF_LL_OFF) offset
		case k >= hl:
			ins.K = k - hl
			continue
		}
		ad, ok := cookedField(f, k)
		if !ok {
			return nil, fmt.Errorf("%w: instruction %d loads byte %d of the %d-byte cooked header, which the kernel cannot", ErrFilterRejected, i, k, hl)
		}
		ins.K = skfAdOff + ad
	}
	return out, nil
}

// skfAdOff is SKF_AD_OFF (-0x1000, linux/filter.h) as an unsigned k: the
// base of the ancillary loads. The SKF_AD_* values are bpf.Extension's.
const skfAdOff uint32 = 0xfffff000

// cookedField returns the ancillary load (SKF_AD_*) for a load at offset
// k of f's cooked header, if there is one.
func cookedField(f framing, k uint32) (uint32, bool) {
	switch {
	case f == framingSLL && k == 0:
		return uint32(bpf.ExtType), true
	case f == framingSLL && k == 14:
		return uint32(bpf.ExtProto), true
	case f == framingSLL2 && k == 0:
		return uint32(bpf.ExtProto), true
	case f == framingSLL2 && k == 4:
		return uint32(bpf.ExtInterfaceIndex), true
	case f == framingSLL2 && k == 10:
		return uint32(bpf.ExtType), true
	}
	return 0, false
}
