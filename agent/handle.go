package agent

import (
	"context"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"golang.org/x/net/bpf"
)

// Handle is an open capture on one interface: what the agent needs from an
// *afpacket.Conn. Tests drive the agent with fakes.
type Handle interface {
	// ReadPacket returns the next frame; its Data is valid until the next
	// call. It returns os.ErrDeadlineExceeded when deadline passes without a
	// frame, and an error wrapping ctx's error when ctx ends.
	ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error)
	// Stats returns the kernel's counters over the handle's life.
	Stats() (afpacket.Stats, error)
	// LinkType is the pcap link type of the frames.
	LinkType() uint32
	// Snaplen is the most bytes kept of each frame.
	Snaplen() int
	// Close releases the handle.
	Close() error
}

// Opener opens a capture handle on the named interface. The real one is
// afpacket.Open (see OpenAFPacket); it returns an error wrapping
// afpacket.ErrFilterRejected when the kernel refuses cfg.Filter.
type Opener func(ifname string, cfg afpacket.Config) (Handle, error)

// InterfaceInfo is what the agent needs to know about an interface before
// it compiles a filter for it.
type InterfaceInfo struct {
	LinkType uint32 // pcap link type the capture produces
	Netmask  uint32 // IPv4 netmask of the first address (0 when none), for "ip broadcast"
}

// InterfaceLookup describes an interface of this host; it returns an error
// when there is no such interface.
type InterfaceLookup func(ifname string) (InterfaceInfo, error)

// Compiler compiles a pcap-filter expression (bpfcompile.Compile).
type Compiler func(expr string, opts bpfcompile.Options) ([]bpf.Instruction, error)

// Clock tells the time. The capture session takes every "now" from it, but
// for the time of a frame, which is the frame's kernel timestamp (it reads
// no clock per frame); so a fake clock advanced by a fake Handle that stamps
// its frames with the fake time drives the stop controls in tests.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// LookupInterface is the default InterfaceLookup: the link type from
// afpacket.LinkTypeOf (which fails for a missing interface) and the netmask
// of the interface's first IPv4 address.
func LookupInterface(ifname string) (InterfaceInfo, error) {
	// The netmask only matters for "ip broadcast": an interface without
	// IPv4 has none, and one that cannot be read is none.
	lt, mask, err := afpacket.LinkTypeAndNetmask(ifname)
	if err != nil {
		return InterfaceInfo{}, err
	}
	return InterfaceInfo{LinkType: lt, Netmask: mask}, nil
}
