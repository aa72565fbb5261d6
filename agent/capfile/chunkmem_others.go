//go:build !linux

package capfile

import "errors"

// mapChunk is only implemented on Linux; elsewhere the pool uses the heap.
func mapChunk(int) ([]byte, error) {
	return nil, errors.New("capfile: no mapped chunks on this system")
}

func unmapChunk([]byte) error { return nil }
