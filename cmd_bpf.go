package main

import (
	"fmt"
	"io"
)

// runBPF implements "pcapdaemon bpf": compile a filter and print it in
// tcpdump's -d, -dd or -ddd format. (Stub.)
func runBPF(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pcapdaemon bpf: not implemented yet")
	return 1
}
