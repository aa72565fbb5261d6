package bpfcompile

import (
	"errors"

	"golang.org/x/net/bpf"
)

// Compile compiles a pcap-filter(7) expression into a classic BPF program for
// the link type and options given. (Stub: the real compiler replaces this.)
func Compile(expr string, opts Options) ([]bpf.Instruction, error) {
	return nil, errors.New("bpf: compiler not implemented yet")
}
