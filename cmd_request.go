package main

import (
	"fmt"
	"io"
)

// runRequest implements "pcapdaemon request". (Stub.)
func runRequest(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "pcapdaemon request: not implemented yet")
	return 1
}
