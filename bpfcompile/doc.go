// Package bpfcompile compiles the pcap-filter(7) language, the filter syntax of
// tcpdump, into classic BPF programs (golang.org/x/net/bpf) without libpcap.
//
// An expression is lexed and parsed into an AST that keeps source positions,
// generated into code for one link type, optimized, and checked the way the
// Linux kernel checks a classic BPF program. The package also interprets
// programs (with the Linux ancillary loads) and prints them in tcpdump's -d,
// -dd and -ddd formats.
//
// The optimizer is a package of its own, internal/opt: it takes and returns
// x/net/bpf programs (Optimize(prog, budget)), and Compile checks what it
// returns with the kernel's rules. The classic BPF opcode fields the code
// generator, the VM and the optimizer share are named in internal/cbpf.
package bpfcompile
