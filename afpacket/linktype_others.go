//go:build !linux

package afpacket

import "errors"

func arphrdOf(string) (int, error) { return 0, errors.New("not supported on this system") }

func netmaskOf(string) (uint32, error) { return 0, errors.New("not supported on this system") }

func hwAndNetmaskOf(string) (int, uint32, error) {
	return 0, 0, errors.New("not supported on this system")
}
