package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
)

// ifaceCheckEvery is how often an idle capture checks that its interface
// still exists.
const ifaceCheckEvery = time.Second

// errInterfaceGone is wrapped by the error of a capture whose interface was
// removed.
var errInterfaceGone = errors.New("interface removed while capturing")

// watchInterface returns h watched for the removal of its interface. When
// an interface is deleted the kernel unhooks the packet socket and reports
// ENETDOWN on it; afpacket does not surface that yet, so such a capture
// would sit idle until its inactivity timeout and end as if all were well.
// The watch notices within ifaceCheckEvery instead, and the capture ends
// with the packets it has and an error in its result.
//
// The interface is identified by /sys/class/net/NAME/ifindex, read at
// open: a name that disappears or comes back with another index (deleted
// and made again) is gone. Without /sys (a bare chroot) there is no watch.
func watchInterface(h agent.Handle, name string) agent.Handle {
	if name == "any" {
		return h
	}
	idx, err := readIfIndex(name)
	if err != nil {
		return h
	}
	return &watchedHandle{Handle: h, name: name, index: idx}
}

type watchedHandle struct {
	agent.Handle
	name  string
	index []byte // the ifindex file's content at open
}

func readIfIndex(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", name, "ifindex"))
	return bytes.TrimSpace(b), err
}

// ReadPacket waits for the next frame at most ifaceCheckEvery at a time,
// checking the interface between waits, until deadline.
func (h *watchedHandle) ReadPacket(ctx context.Context, deadline time.Time) (afpacket.Packet, error) {
	for {
		step := time.Now().Add(ifaceCheckEvery)
		if !deadline.IsZero() && deadline.Before(step) {
			step = deadline
		}
		p, err := h.Handle.ReadPacket(ctx, step)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return p, err
		}
		if step.Equal(deadline) {
			return p, err // the caller's own deadline
		}
		if gone := h.gone(); gone != nil {
			return afpacket.Packet{}, gone
		}
	}
}

// gone returns an error when the interface no longer exists as it was.
func (h *watchedHandle) gone() error {
	idx, err := readIfIndex(h.name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %s (ifindex %s) no longer exists", errInterfaceGone, h.name, h.index)
	case err != nil:
		return nil // cannot tell: keep capturing
	case !bytes.Equal(idx, h.index):
		return fmt.Errorf("%w: %s was ifindex %s and is now ifindex %s", errInterfaceGone, h.name, h.index, idx)
	}
	return nil
}
