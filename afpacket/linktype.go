package afpacket

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Link types (pcap LINKTYPE_* numbers) that Linux interfaces map to.
const (
	LinkTypeEthernet  uint32 = 1
	LinkTypeRaw       uint32 = 101
	LinkTypeLinuxSLL  uint32 = 113
	LinkTypeLinuxSLL2 uint32 = 276
)

// ARPHRD_* values from <linux/if_arp.h> that the capture path distinguishes.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdNone     = 0xfffe
	arphrdIPGRE    = 778
	arphrdTunnel   = 768
	arphrdTunnel6  = 769
	arphrdSit      = 776
	arphrdPPP      = 512
)

// errNoInterface is arphrdOf's error for a name no interface has.
var errNoInterface = errors.New("no such interface")

// LinkTypeOf returns the pcap link type a capture on the named interface
// produces, from the interface's ARPHRD type (asked of the kernel, or read
// from /sys/class/net/NAME/type where the ioctl is refused):
// Ethernet and loopback give EN10MB, interfaces without a link-layer header
// (tun, ARPHRD_NONE, IP tunnels, PPP) give RAW, and anything else is captured
// with a cooked LINUX_SLL header.
func LinkTypeOf(ifname string) (uint32, error) {
	if ifname == "any" {
		return LinkTypeLinuxSLL2, nil
	}
	if ifname == "" || strings.ContainsAny(ifname, "/\x00") || ifname == "." || ifname == ".." {
		return 0, fmt.Errorf("afpacket: invalid interface name %q", ifname)
	}
	t, err := arphrdOf(ifname)
	switch {
	case err == nil:
		return linkTypeForARPHRD(t), nil
	case errors.Is(err, errNoInterface):
		return 0, fmt.Errorf("afpacket: interface %q: %w", ifname, err)
	}
	b, serr := os.ReadFile("/sys/class/net/" + ifname + "/type")
	if serr != nil {
		return 0, fmt.Errorf("afpacket: interface %q: %w (and %w)", ifname, err, serr)
	}
	t, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("afpacket: interface %q: bad ARPHRD type %q", ifname, b)
	}
	return linkTypeForARPHRD(t), nil
}

// ARPHRD returns the interface's ARPHRD type (<linux/if_arp.h>), asked of
// the kernel for the calling thread's network namespace.
func ARPHRD(ifname string) (int, error) {
	t, err := arphrdOf(ifname)
	if err != nil {
		return 0, fmt.Errorf("afpacket: interface %q: %w", ifname, err)
	}
	return t, nil
}

// Netmask returns the netmask of the named interface's primary IPv4
// address as a number (255.255.255.0 is 0xffffff00), or 0 when it has no
// IPv4 address, asked of the kernel for the calling thread's network
// namespace (SIOCGIFNETMASK, see netdevice(7)). One ioctl: where
// net.InterfaceByName and Interface.Addrs dump every link and every
// address of the namespace over netlink, which a capture request waits
// for.
func Netmask(ifname string) (uint32, error) {
	m, err := netmaskOf(ifname)
	if err != nil {
		return 0, fmt.Errorf("afpacket: interface %q: %w", ifname, err)
	}
	return m, nil
}

// LinkTypeAndNetmask returns LinkTypeOf(ifname) and the interface's
// Netmask, 0 where it has none or it cannot be read, asked of the kernel
// over one socket: a capture request needs both before it compiles its
// filter, and making and closing a socket costs more than an ioctl.
func LinkTypeAndNetmask(ifname string) (linkType, netmask uint32, err error) {
	if ifname == "any" {
		return LinkTypeLinuxSLL2, 0, nil
	}
	if t, m, err := hwAndNetmaskOf(ifname); err == nil {
		return linkTypeForARPHRD(t), m, nil
	}
	// The separate ways, with LinkTypeOf's checks, fallback and errors.
	if linkType, err = LinkTypeOf(ifname); err != nil {
		return 0, 0, err
	}
	netmask, _ = Netmask(ifname)
	return linkType, netmask, nil
}

func linkTypeForARPHRD(t int) uint32 {
	switch t {
	case arphrdEther, arphrdLoopback:
		return LinkTypeEthernet
	case arphrdNone, arphrdIPGRE, arphrdTunnel, arphrdTunnel6, arphrdSit, arphrdPPP:
		return LinkTypeRaw
	default:
		return LinkTypeLinuxSLL
	}
}
