//go:build linux

package afpacket

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capNetRaw is the bit of CAP_NET_RAW in the capability sets
// (linux/capability.h).
const capNetRaw = 13

// checkCapability implements CheckCapability.
func checkCapability() error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		return unix.Close(fd)
	}
	serr := os.NewSyscallError("socket AF_PACKET", err)
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("afpacket: cannot open packet sockets: the process lacks CAP_NET_RAW%s; "+
			"run as root, or grant it (setcap cap_net_raw+ep on the binary, "+
			"AmbientCapabilities=CAP_NET_RAW in a systemd unit, or --cap-add NET_RAW for a container): %w",
			capDetail(), serr)
	case errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("afpacket: cannot open packet sockets: the kernel has no AF_PACKET support (CONFIG_PACKET): %w", serr)
	default:
		return fmt.Errorf("afpacket: cannot open packet sockets: %w", serr)
	}
}

// capDetail describes where CAP_NET_RAW is missing, from
// /proc/thread-self/status:
// not permitted at all, or permitted but not effective. Capabilities are
// per thread, so it reads the calling thread's.
func capDetail() string {
	f, err := os.Open("/proc/thread-self/status")
	if err != nil {
		return ""
	}
	defer f.Close()
	caps := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
			caps[k] = n
		}
	}
	const bit = uint64(1) << capNetRaw
	eff, okE := caps["CapEff"]
	prm, okP := caps["CapPrm"]
	switch {
	case okE && okP && prm&bit != 0 && eff&bit == 0:
		return fmt.Sprintf(" (it is permitted but not effective: CapPrm=%016x CapEff=%016x)", prm, eff)
	case okE:
		return fmt.Sprintf(" (effective capabilities %016x)", eff)
	default:
		return ""
	}
}
