package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/config"
)

const interfacesUsage = `usage: pcapdaemon interfaces [-config FILE] [-json]

Lists the host's network interfaces as the daemon sees them: index, name,
the pcap link type a capture there produces (from the ARPHRD type), flags,
addresses and, with -config, the aliases the file's [[interface]] tables
give each one. The configuration is loaded and validated as the daemon does
(file, then PCAPDAEMON_* environment), so a bad alias fails here too.
`

// ifaceInfo is one interface in the output of "pcapdaemon interfaces"; the
// JSON field names are part of the -json output.
type ifaceInfo struct {
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
	// Error says what could not be found out (for example the link type
	// when /sys is not mounted).
	Error string `json:"error,omitempty"`
}

// runInterfaces implements "pcapdaemon interfaces". It returns the exit
// status: 0, 1 when the interfaces cannot be listed or the configuration
// does not load, 2 for a bad command line.
func runInterfaces(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pcapdaemon interfaces", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "configuration `FILE` (TOML) whose [[interface]] aliases to show")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, interfacesUsage)
			return 0
		}
		fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n%s", err, interfacesUsage)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pcapdaemon interfaces: unexpected argument %q\n%s", fs.Arg(0), interfacesUsage)
		return 2
	}

	var aliases map[string][]string
	if *cfgPath != "" {
		// As the daemon would load it on this host, but as a dry run:
		// listing interfaces creates no directory.
		l := config.Loader{Args: []string{"-config", *cfgPath}, Environ: os.Environ(), Output: stderr}
		cfg, _, err := l.LoadForHost(config.HostOptions{DryRun: true})
		if err != nil {
			fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n", err)
			return 1
		}
		aliases = aliasesByInterface(cfg.Interfaces)
	}
	list, err := listInterfaces(aliases)
	if err != nil {
		fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n", err)
		return 1
	}
	if *asJSON {
		err = writeInterfacesJSON(stdout, list)
	} else {
		err = writeInterfacesTable(stdout, list)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n", err)
		return 1
	}
	return 0
}

// aliasesByInterface maps each configured interface name to its aliases,
// in file order.
func aliasesByInterface(ifs []config.Interface) map[string][]string {
	m := make(map[string][]string, len(ifs))
	for _, in := range ifs {
		m[in.Name] = append(m[in.Name], in.Alias...)
	}
	return m
}

// listInterfaces describes every interface of the host (net.Interfaces, by
// rtnetlink) in index order. What only sysfs knows — the promiscuous flag
// the device has while a packet socket asks for it — is marked unknown,
// with the reason in Error, when /sys/class/net cannot be read.
func listInterfaces(aliases map[string][]string) ([]ifaceInfo, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	list := make([]ifaceInfo, 0, len(ifs))
	for _, ifi := range ifs {
		list = append(list, describeInterface(ifi, aliases[ifi.Name]))
	}
	slices.SortFunc(list, func(a, b ifaceInfo) int { return a.Index - b.Index })
	return list, nil
}

// describeInterface fills one ifaceInfo.
func describeInterface(ifi net.Interface, aliases []string) ifaceInfo {
	in := ifaceInfo{
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

// linkTypeName returns tcpdump's name (pcap_datalink_val_to_name without
// "DLT_") of the link type dlt.
func linkTypeName(dlt uint32) string {
	if n := bpfcompile.LinkType(dlt).Name(); n != "" {
		return n
	}
	return "DLT" + strconv.FormatUint(uint64(dlt), 10)
}

// arphrdName returns the ARPHRD_* name (<linux/if_arp.h>, without the
// prefix) of the types a host is likely to have, t in decimal for others,
// or "" for an unknown type (-1).
func arphrdName(t int) string {
	switch t {
	case -1:
		return ""
	case 1:
		return "ETHER"
	case 19:
		return "ATM"
	case 24:
		return "IEEE1394"
	case 32:
		return "INFINIBAND"
	case 256:
		return "SLIP"
	case 280:
		return "CAN"
	case 290:
		return "MCTP"
	case 512:
		return "PPP"
	case 513:
		return "CISCO"
	case 519:
		return "RAWIP"
	case 768:
		return "TUNNEL"
	case 769:
		return "TUNNEL6"
	case 772:
		return "LOOPBACK"
	case 774:
		return "FDDI"
	case 776:
		return "SIT"
	case 778:
		return "IPGRE"
	case 801:
		return "IEEE80211"
	case 803:
		return "IEEE80211_RADIOTAP"
	case 804:
		return "IEEE802154"
	case 823:
		return "IP6GRE"
	case 824:
		return "NETLINK"
	case 825:
		return "6LOWPAN"
	case 826:
		return "VSOCKMON"
	case 0xfffe:
		return "NONE"
	case 0xffff:
		return "VOID"
	}
	return strconv.Itoa(t)
}

// writeInterfacesTable prints list as aligned columns, "-" for nothing and
// "?" for what could not be found out; problems follow the table.
func writeInterfacesTable(w io.Writer, list []ifaceInfo) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tLINKTYPE\tARPHRD\tFLAGS\tADDRESSES\tALIASES")
	var notes []string
	for _, in := range list {
		lt, arp := in.LinkType, in.ARPHRDName
		if lt == "" {
			lt = "?"
		}
		if in.ARPHRD < 0 {
			arp = "?"
		} else if arp != strconv.Itoa(in.ARPHRD) {
			arp = fmt.Sprintf("%s(%d)", arp, in.ARPHRD)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Index, in.Name, lt, arp,
			orDash(in.Flags), orDash(in.Addresses), orDash(in.Aliases))
		if in.Error != "" {
			notes = append(notes, in.Name+": "+in.Error)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}

func orDash(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

// writeInterfacesJSON prints list as an indented JSON array.
func writeInterfacesJSON(w io.Writer, list []ifaceInfo) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}
