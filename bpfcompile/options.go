package bpfcompile

import (
	"context"
	"net"
)

// NetmaskUnknown is the Netmask value that means the netmask is not known
// (libpcap's PCAP_NETMASK_UNKNOWN).
const NetmaskUnknown uint32 = 0xffffffff

// Resolver looks up the names a filter may contain. A nil Resolver in Options
// means the built-in tables for services and protocols and the Go resolver
// (net.DefaultResolver) for host names; tests inject fixtures.
type Resolver interface {
	// LookupHost returns every address of a host name, IPv4 and IPv6.
	LookupHost(ctx context.Context, name string) ([]net.IP, error)
	// LookupEther returns the MAC address of a name, as ethers(5).
	LookupEther(name string) (net.HardwareAddr, error)
	// LookupNet returns the network number of a name, as networks(5).
	LookupNet(name string) (uint32, error)
	// LookupPort returns the port of a service name for "tcp" or "udp"
	// (-1 when the service has no entry for that protocol).
	LookupPort(name, proto string) (int, error)
	// LookupProto returns the number of an IP protocol name, as protocols(5).
	LookupProto(name string) (int, error)
}

// Options select what Compile generates code for.
type Options struct {
	// LinkType is the link-layer header of the packets. Its zero value is
	// LinkTypeNull, so callers set it explicitly (tcpdump's default is
	// LinkTypeEthernet).
	LinkType LinkType
	// Snaplen is returned by the program for an accepted packet
	// (0 means 262144, as tcpdump's -s 0).
	Snaplen int
	// Netmask is the IPv4 netmask of the capture interface, used by
	// "ip broadcast". tcpdump without -i compiles with 0; NetmaskUnknown
	// (libpcap's PCAP_NETMASK_UNKNOWN) makes "ip broadcast" an error.
	Netmask uint32
	// Live selects the Linux kernel flavour: VLAN tags and packet direction
	// come from ancillary loads (SKF_AD_*), as libpcap does for a live Linux
	// capture. Otherwise tags are read inline from the frame (a savefile).
	Live bool
	// NoOptimize turns the optimizer off (tcpdump -O).
	NoOptimize bool
	// Resolver resolves names; nil means the built-in tables and the Go resolver.
	Resolver Resolver

	// OfflineAF selects libpcap's savefile handling of the DLT_NULL and
	// DLT_LOOP address-family word (filtertest -S): the BSD values of
	// AF_INET6 (24, 28, 30) instead of Linux's 10, and for DLT_NULL both
	// byte orders. SwappedAF says the savefile's byte order is the
	// opposite of the host's. A live capture leaves both false.
	OfflineAF bool
	SwappedAF bool
}
