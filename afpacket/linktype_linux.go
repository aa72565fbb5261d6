//go:build linux

package afpacket

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// arphrdOf asks the kernel for the interface's ARPHRD type: SIOCGIFHWADDR
// returns it as the hardware address's family. It needs no privilege and
// no /sys (a bare root or a minimal container may not mount it), and it
// answers for the network namespace the calling thread is in, where
// /sys/class/net shows the one sysfs was mounted in.
func arphrdOf(ifname string) (int, error) {
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return 0, errors.New("name too long")
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, errNoInterface
		}
		return 0, os.NewSyscallError("ioctl SIOCGIFHWADDR", err)
	}
	return int(ifr.Uint16()), nil
}

// netmaskOf implements Netmask: SIOCGIFNETMASK on an AF_INET socket
// answers with the netmask of the first address labelled with the
// interface's name, its primary one, and EADDRNOTAVAIL when there is none.
func netmaskOf(ifname string) (uint32, error) {
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return 0, errors.New("name too long")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFNETMASK, ifr); err != nil {
		switch {
		case errors.Is(err, unix.EADDRNOTAVAIL):
			return 0, nil
		case errors.Is(err, unix.ENODEV):
			return 0, errNoInterface
		}
		return 0, os.NewSyscallError("ioctl SIOCGIFNETMASK", err)
	}
	m, err := ifr.Inet4Addr()
	if err != nil {
		return 0, err
	}
	return be.Uint32(m), nil
}

// hwAndNetmaskOf is arphrdOf and netmaskOf over one AF_INET socket (which
// answers SIOCGIFHWADDR as any socket does). A netmask it cannot read is
// 0; any other failure is an error, for the caller to take the separate
// ways.
func hwAndNetmaskOf(ifname string) (int, uint32, error) {
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return 0, 0, errors.New("name too long")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, 0, os.NewSyscallError("ioctl SIOCGIFHWADDR", err)
	}
	t := int(ifr.Uint16())
	ifr, _ = unix.NewIfreq(ifname)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFNETMASK, ifr); err != nil {
		return t, 0, nil
	}
	m, err := ifr.Inet4Addr()
	if err != nil {
		return t, 0, nil
	}
	return t, be.Uint32(m), nil
}
