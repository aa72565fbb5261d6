// Package bpftest holds what the tests of bpfcompile, of its optimizer and
// of the pcapdaemon command share about classic BPF programs: a parser of
// the listings tcpdump -d prints (ParseListing), the accept entries of
// libpcap's filter tests (Accept), generated expressions that stress the
// compiler (LongExprs) and generated packets that take a program's
// branches both ways, for differential runs of two programs (Packets).
//
// It imports no part of bpfcompile, so that bpfcompile's own tests can use
// it; the tests copy its Packet metadata into bpfcompile.Meta.
package bpftest
