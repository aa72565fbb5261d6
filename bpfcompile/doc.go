// Package bpfcompile compiles the pcap-filter(7) language, the filter syntax of
// tcpdump, into classic BPF programs (golang.org/x/net/bpf) without libpcap.
//
// An expression is lexed and parsed into an AST that keeps source positions,
// generated into code for one link type, optimized, and checked the way the
// Linux kernel checks a classic BPF program. The package also interprets
// programs (with the Linux ancillary loads) and prints them in tcpdump's -d,
// -dd and -ddd formats.
package bpfcompile
