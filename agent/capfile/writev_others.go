//go:build !linux

package capfile

import "io"

// writeParts writes parts to w, one Write per part.
func writeParts(w io.Writer, parts [][]byte) (int64, error) { return writeEach(w, parts) }
