// Package bpfcompile compiles the pcap-filter(7) language, the filter syntax of
// tcpdump, into classic BPF programs (golang.org/x/net/bpf) without libpcap.
//
// An expression is lexed and parsed into an AST that keeps source positions,
// generated into code for one link type, optimized, and checked the way the
// Linux kernel checks a classic BPF program. The package also interprets
// programs (with the Linux ancillary loads) and prints them in tcpdump's -d,
// -dd and -ddd formats.
//
// Compile generates code for every link type libpcap does, with libpcap's
// programs (its filter test suite is the conformance test): what differs
// between link types is data, one row per link type in linklayer.go
// (where the link-layer header and its payload start, how the network
// protocol is announced, where the addresses are, which keywords apply),
// and per kind of header the code that reads it: 802.11 and its radio
// headers (gen_wlan.go), SunATM (gen_atm.go), SS7 MTP2/MTP3
// (gen_ss7.go), pflog (gen_pflog.go). Link types without a known
// protocol field allow only "link[N:M]" and the keywords that do not look
// into the header, as in libpcap.
//
// The optimizer is a package of its own, internal/opt: Compile hands it the
// generated blocks (opt.Blocks) and checks what it returns with the
// kernel's rules; it also takes x/net/bpf programs (opt.Optimize). It makes
// libpcap's programs, and with them libpcap's verdicts on packets cut
// short: libpcap's optimizer drops loads nothing reads and moves tests of a
// value already loaded before loads that can fail, and so does ours
// (TestRandomLabels compares the verdicts with libpcap master's). The
// classic BPF opcode fields the code generator, the VM and the optimizer
// share are named in internal/cbpf.
package bpfcompile
