package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// bpfMaxSnaplen is what tcpdump's -s 0 means (libpcap's MAXIMUM_SNAPLEN).
const bpfMaxSnaplen = 262144

const bpfUsage = `usage: pcapdaemon bpf [-i IFACE | -y DLT] [-s SNAPLEN] [-m NETMASK] [-O] [-d|-dd|-ddd] EXPRESSION...

Compiles a pcap-filter(7) expression and prints the program as tcpdump -d,
-dd or -ddd does (default -d). Without -i it compiles for a savefile of link
type DLT (default EN10MB) with netmask 0, as tcpdump does; -i compiles
exactly what the daemon attaches to IFACE: its link type, its IPv4 netmask,
the live Linux flavour.

DLT: EN10MB RAW IPV4 IPV6 LINUX_SLL LINUX_SLL2 NULL LOOP (any case).
`

// runBPF implements "pcapdaemon bpf": compile a filter and print it in
// tcpdump's -d, -dd or -ddd format. It returns the exit status: 0, 1 for an
// expression that does not compile, 2 for a bad command line.
func runBPF(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pcapdaemon bpf", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	iface := fs.String("i", "", "compile what the daemon attaches to interface `IFACE`")
	dlt := fs.String("y", "", "link type `DLT` of a savefile (default EN10MB)")
	snaplen := fs.Int("s", bpfMaxSnaplen, "snapshot length `SNAPLEN` the program returns (0 means 262144)")
	mask := fs.String("m", "", "IPv4 `NETMASK` for \"ip broadcast\" (default 0, or the interface's)")
	noOpt := fs.Bool("O", false, "do not optimize the program")
	d1 := fs.Bool("d", false, "print the program as tcpdump -d (the default)")
	d2 := fs.Bool("dd", false, "print the program as a C array, as tcpdump -dd")
	d3 := fs.Bool("ddd", false, "print the program in decimal, as tcpdump -ddd")
	usageErr := func(err error) int {
		fmt.Fprintf(stderr, "pcapdaemon bpf: %v\n", err)
		fmt.Fprint(stderr, bpfUsage)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, bpfUsage)
			return 0
		}
		return usageErr(err)
	}

	format := bpfcompile.DumpListing
	switch {
	case *d3:
		format = bpfcompile.DumpDecimal
	case *d2:
		format = bpfcompile.DumpC
	case *d1:
	}
	opts := bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet, Snaplen: *snaplen, NoOptimize: *noOpt}
	switch {
	case *snaplen < 0:
		return usageErr(fmt.Errorf("invalid snapshot length %d", *snaplen))
	case *snaplen == 0:
		opts.Snaplen = bpfMaxSnaplen
	}
	switch {
	case *iface != "" && *dlt != "":
		return usageErr(errors.New("-i and -y exclude each other"))
	case *iface != "":
		// What the agent does before it attaches a filter (agent/plan.go).
		info, err := agent.LookupInterface(*iface)
		if err != nil {
			fmt.Fprintf(stderr, "pcapdaemon bpf: %v\n", err)
			return 1
		}
		opts.LinkType = bpfcompile.LinkType(info.LinkType)
		opts.Netmask = info.Netmask
		opts.Live = true
	case *dlt != "":
		// tcpdump's -y names (pcap_datalink_name_to_val), "DLT_" optional;
		// Compile takes every link type libpcap knows.
		lt, ok := bpfcompile.LinkTypeByName(strings.TrimPrefix(strings.ToUpper(*dlt), "DLT_"))
		if !ok {
			return usageErr(fmt.Errorf("unknown data link type %q", *dlt))
		}
		opts.LinkType = lt
	}
	if *mask != "" {
		m, err := bpfParseNetmask(*mask)
		if err != nil {
			return usageErr(err)
		}
		opts.Netmask = m
	}

	prog, err := bpfcompile.Compile(strings.Join(fs.Args(), " "), opts)
	if err != nil {
		// One line, with the position the compiler names ("bpf: 1:12: ...").
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		if !strings.HasPrefix(msg, "bpf: ") {
			msg = "bpf: " + msg
		}
		fmt.Fprintf(stderr, "pcapdaemon %s\n", msg)
		return 1
	}
	if err := bpfcompile.Dump(stdout, prog, format); err != nil {
		fmt.Fprintf(stderr, "pcapdaemon bpf: %v\n", err)
		return 1
	}
	return 0
}

// bpfParseNetmask parses a dotted-quad IPv4 netmask ("255.255.255.0") or a
// prefix length ("24" or "/24").
func bpfParseNetmask(s string) (uint32, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		b := a.As4()
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
	}
	var bits int
	if _, err := fmt.Sscanf(strings.TrimPrefix(s, "/"), "%d", &bits); err == nil && bits >= 0 && bits <= 32 &&
		fmt.Sprint(bits) == strings.TrimPrefix(s, "/") {
		if bits == 0 {
			return 0, nil
		}
		return ^uint32(0) << (32 - bits), nil
	}
	return 0, fmt.Errorf("invalid netmask %q (want a.b.c.d or a prefix length)", s)
}
