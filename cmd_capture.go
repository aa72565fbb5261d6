package main

import (
	"fmt"
	"io"
)

// runCapture implements "pcapdaemon capture". (Stub.)
func runCapture(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pcapdaemon capture: not implemented yet")
	return 1
}
