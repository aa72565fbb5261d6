// Package interfaces is the logic of "pcapdaemon interfaces": it lists the
// host's network interfaces as the daemon sees them (index, name, the pcap
// link type a capture there produces, the kernel's ARPHRD type, flags,
// addresses) with the aliases a configuration file gives them, as a table
// or as JSON. The root package parses the command line.
package interfaces
