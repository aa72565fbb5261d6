// Package interfaces is the logic of "pcapdaemon interfaces": it lists the
// host's network interfaces as the daemon sees them (index, name, the pcap
// link type a capture there produces, the kernel's ARPHRD type, flags,
// addresses) with the aliases and look-back rings a configuration file
// gives them (and, when the daemon's HTTP API answers, what each ring
// holds), as a table or as JSON. The root package parses the command line.
package interfaces
