//go:build !linux

package agent

import "errors"

const hugePageSize = 2 << 20

// mapChunk is only implemented on Linux; elsewhere the pool uses the heap.
func mapChunk(int) ([]byte, error) { return nil, errors.New("agent: no mapped chunks on this system") }

func unmapChunk([]byte) error { return nil }
