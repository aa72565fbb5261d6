package config

import (
	"fmt"
	"strings"
)

// Bounds of [[interface]] lookback.
const (
	// MinLookback is the least lookback: a ring of a few blocks.
	MinLookback = 1 << 20
	// MaxLookbackBytes is the most: the kernel takes a ring's size as a
	// 32-bit count of blocks of at most 1 MiB, and the memory is the
	// host's long before that.
	MaxLookbackBytes = 1 << 40
	// maxLookbackFilter bounds lookbackfilter, as a request's bpf field is.
	maxLookbackFilter = 8192
)

// validateLookback checks the look-back keys of the [[interface]] table
// in (key is "interface[i]").
func (c *Config) validateLookback(v *validator, key string, in Interface) {
	switch {
	case in.Lookback == 0:
		if in.LookbackSnap != 0 {
			v.add(key+".lookbacksnap", in.LookbackSnap, "is only used with lookback (the interface keeps no look-back ring)")
		}
		if in.LookbackFilter != "" {
			v.add(key+".lookbackfilter", in.LookbackFilter, "is only used with lookback (the interface keeps no look-back ring)")
		}
		return
	case in.Lookback < MinLookback || in.Lookback > MaxLookbackBytes:
		v.add(key+".lookback", in.Lookback, "must be 0 (no look-back ring) or %d (1 MiB) to %d (1 TiB) bytes", MinLookback, int64(MaxLookbackBytes))
	}
	if s := in.LookbackSnap; s < 0 || s > c.General.MaxSnapLength {
		v.add(key+".lookbacksnap", s, "must be 0 (general.snaplength) or 1 to general.maxsnaplength (%d)", c.General.MaxSnapLength)
	}
	f := in.LookbackFilter
	switch {
	case len(f) > maxLookbackFilter:
		v.add(key+".lookbackfilter", nil, "is %d bytes long, the limit is %d", len(f), maxLookbackFilter)
	case strings.ContainsFunc(f, isControl):
		v.add(key+".lookbackfilter", f, "must not contain control characters")
	}
}

// validateLookbackMemory checks that the look-back rings' history fits
// general.maxmemory. The rings take about 1.6 times their
// lookback (the kernel's room), which the daemon checks exactly when it
// starts; this is the check a file can fail without a host.
func (c *Config) validateLookbackMemory(v *validator) {
	var sum int64
	var keys []string
	for i, in := range c.Interfaces {
		if in.Lookback > 0 {
			sum += in.Lookback
			keys = append(keys, fmt.Sprintf("interface[%d].lookback", i))
		}
	}
	if sum > 0 && sum >= c.General.MaxMemory {
		v.add("general.maxmemory", c.General.MaxMemory,
			"must hold the look-back rings and room for captures: %s add up to %d bytes, and each ring takes about 1.6 times its lookback", strings.Join(keys, " + "), sum)
	}
}

// isControl reports a control character other than tab, CR and LF (a
// filter may span lines).
func isControl(r rune) bool {
	return r == 0x7f || r < 0x20 && r != '\t' && r != '\r' && r != '\n'
}
