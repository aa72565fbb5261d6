package interfaces

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// Info is one interface in the output of "pcapdaemon interfaces"; the JSON
// field names are part of the -json output.
type Info struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	// LinkType is the tcpdump name (EN10MB, RAW, LINUX_SLL, ...) of DLT.
	LinkType string `json:"linktype"`
	DLT      uint32 `json:"dlt"`
	// ARPHRD is the kernel's hardware type (<linux/if_arp.h>), -1 when unknown.
	ARPHRD     int      `json:"arphrd"`
	ARPHRDName string   `json:"arphrd_name"`
	MTU        int      `json:"mtu"`
	MAC        string   `json:"mac,omitempty"`
	Flags      []string `json:"flags"`
	Addresses  []string `json:"addresses"`
	Aliases    []string `json:"aliases"`
	// Lookback is the interface's look-back ring, when the configuration
	// gives it one.
	Lookback *Lookback `json:"lookback,omitempty"`
	// Error says what could not be found out (for example the link type
	// when /sys is not mounted).
	Error string `json:"error,omitempty"`
}

// List describes every interface of the host (net.Interfaces, by
// rtnetlink) in index order. What only sysfs knows — the promiscuous flag
// the device has while a packet socket asks for it — is marked unknown,
// with the reason in Error, when /sys/class/net cannot be read.
func List(aliases map[string][]string) ([]Info, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	list := make([]Info, 0, len(ifs))
	for _, ifi := range ifs {
		list = append(list, describeInterface(ifi, aliases[ifi.Name]))
	}
	slices.SortFunc(list, func(a, b Info) int { return a.Index - b.Index })
	return list, nil
}

// describeInterface fills one Info.
func describeInterface(ifi net.Interface, aliases []string) Info {
	in := Info{
		Index:     ifi.Index,
		Name:      ifi.Name,
		ARPHRD:    -1,
		MTU:       ifi.MTU,
		Flags:     []string{},
		Addresses: []string{},
		Aliases:   append([]string{}, aliases...),
	}
	if len(ifi.HardwareAddr) > 0 {
		in.MAC = ifi.HardwareAddr.String()
	}
	var problems []string
	if dlt, err := afpacket.LinkTypeOf(ifi.Name); err != nil {
		problems = append(problems, "link type: "+err.Error())
	} else {
		in.DLT, in.LinkType = dlt, linkTypeName(dlt)
	}
	if t, err := afpacket.ARPHRD(ifi.Name); err != nil {
		problems = append(problems, "ARPHRD type: "+err.Error())
	} else {
		in.ARPHRD = t
	}
	in.ARPHRDName = arphrdName(in.ARPHRD)

	for _, f := range []struct {
		flag net.Flags
		name string
	}{{net.FlagUp, "up"}, {net.FlagRunning, "running"}, {net.FlagLoopback, "loopback"}, {net.FlagPointToPoint, "pointtopoint"}} {
		if ifi.Flags&f.flag != 0 {
			in.Flags = append(in.Flags, f.name)
		}
	}
	// The kernel sets IFF_PROMISC in the device flags whenever its
	// promiscuity count is non-zero (a packet socket's PACKET_MR_PROMISC
	// included); rtnetlink, and so net.Interface, reports only the
	// administratively set bit. sysfs shows the device flags.
	if fl, err := readSysNet(ifi.Name, "flags"); err != nil {
		problems = append(problems, "flags: "+err.Error())
	} else if fl&iffPromisc != 0 {
		in.Flags = append(in.Flags, "promisc")
	}

	if addrs, err := ifi.Addrs(); err != nil {
		problems = append(problems, "addresses: "+err.Error())
	} else {
		for _, a := range addrs {
			in.Addresses = append(in.Addresses, a.String())
		}
	}
	in.Error = strings.Join(problems, "; ")
	return in
}

// iffPromisc is IFF_PROMISC (<linux/if.h>).
const iffPromisc = 0x100

// readSysNet reads the number in /sys/class/net/NAME/ATTR (decimal, or hex
// with 0x as "flags" is).
func readSysNet(name, attr string) (int64, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/" + attr)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("/sys/class/net/%s/%s: bad number %q", name, attr, s)
	}
	return n, nil
}
