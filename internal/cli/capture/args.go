package capture

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/pktsummary"
)

// Options are the parsed command line of "pcapdaemon capture".
type Options struct {
	// Spec is the live capture: interfaces, filter, stop controls, ring.
	// Its Armed and Packet hooks are Run's. Spec.Bytes is -1 when
	// --bytes was not given (Run picks the default for the source).
	Spec agent.CaptureSpec
	// Read is -r: a pcap or pcapng file to read instead of capturing
	// ("-": stdin).
	Read string
	// FilterFile is -F: a file holding the filter expression.
	FilterFile string
	// Words are the expression words of the command line.
	Words []string
	// Write is -w: a file, "-" for stdout, or "" to print one line per
	// frame instead of writing a file.
	Write string
	// Direction is -Q: "" (or "inout": both), "in" or "out".
	Direction string
	// PacketBuffered is -U (and -l for the lines): flush after every
	// frame.
	PacketBuffered bool
	// TimeFormat is how many -t were given: the lines' timestamp format.
	TimeFormat int
	// AbsoluteSeq is -S: the lines show TCP sequence numbers as they
	// are, not relative to the connection's first.
	AbsoluteSeq bool
	// Quick is -q: shorter lines ("tcp 0" for a TCP segment).
	Quick bool
	// LinkHeader is -e: each line starts with the link-level header.
	LinkHeader bool
	// Hex, HexASCII and ASCII count -x, -X and -A: the frame's bytes
	// after each line (in hex, in hex and ASCII, as text), with the
	// link-level header when given twice. -X wins over -x, -x over -A,
	// as in tcpdump.
	Hex, HexASCII, ASCII int
}

// opt is one option the command takes.
type opt struct {
	short byte     // its letter, 0 for a long option only
	long  []string // its long names (ours, and tcpdump's for the same option)
	value bool     // takes a value
	set   func(o *Options, v string) error
}

// ourLong are the long names that may also be written with one dash, as
// Go's flag package allows ("-bytes"); every other word after one dash is
// a cluster of letters, as getopt reads it ("-nni", "-s0").
var ourLong = []string{"bytes", "duration", "timeout", "format", "help"}

// options is the command's option table.
func options() []opt {
	intArg := func(name string, dst *int64, lo int64, why string) func(*Options, string) error {
		return func(_ *Options, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < lo {
				return fmt.Errorf("%s %q: %s", name, v, why)
			}
			*dst = n
			return nil
		}
	}
	return []opt{
		{short: 'i', long: []string{"interface"}, value: true, set: func(o *Options, v string) error {
			for name := range strings.SplitSeq(v, ",") {
				if name == "" {
					return fmt.Errorf("-i %q: empty interface name", v)
				}
				if !slices.Contains(o.Spec.Interfaces, name) {
					o.Spec.Interfaces = append(o.Spec.Interfaces, name)
				}
			}
			return nil
		}},
		{short: 'r', value: true, set: func(o *Options, v string) error { o.Read = v; return nil }},
		{short: 'c', value: true, set: func(o *Options, v string) error {
			// tcpdump: "invalid packet count"
			return intArg("-c", &o.Spec.Packets, 1, "invalid packet count: must be a number of packets of 1 or more")(o, v)
		}},
		{long: []string{"bytes"}, value: true, set: func(o *Options, v string) error {
			return intArg("--bytes", &o.Spec.Bytes, 0, "must be a number of bytes, 0 for no limit")(o, v)
		}},
		{long: []string{"duration"}, value: true, set: func(o *Options, v string) error {
			return setSeconds("--duration", &o.Spec.Duration, v)
		}},
		{long: []string{"timeout"}, value: true, set: func(o *Options, v string) error {
			return setSeconds("--timeout", &o.Spec.Timeout, v)
		}},
		{short: 's', long: []string{"snapshot-length"}, value: true, set: func(o *Options, v string) error {
			var n int64
			if err := intArg("-s", &n, 0, "invalid snaplen: must be a number of bytes, 0 for 262144")(o, v); err != nil {
				return err
			}
			o.Spec.Snaplen = int(min(n, 1<<30))
			return nil
		}},
		{short: 'B', long: []string{"buffer-size"}, value: true, set: func(o *Options, v string) error {
			var kib int64
			if err := intArg("-B", &kib, 1, fmt.Sprintf("must be between 1 and %d KiB", maxRingKiB))(o, v); err != nil || kib > maxRingKiB {
				return cmpErr(err, fmt.Errorf("-B %q: must be between 1 and %d KiB", v, maxRingKiB))
			}
			o.Spec.RingBytes = kib << 10
			return nil
		}},
		{short: 'p', long: []string{"no-promiscuous-mode"}, set: func(o *Options, _ string) error { o.Spec.Promiscuous = false; return nil }},
		{short: 'Q', long: []string{"direction"}, value: true, set: func(o *Options, v string) error {
			switch v {
			case "in", "out", "inout":
				o.Direction = v
				return nil
			}
			return fmt.Errorf("-Q %q: must be in, out or inout", v)
		}},
		{short: 'F', value: true, set: func(o *Options, v string) error { o.FilterFile = v; return nil }},
		{short: 'U', long: []string{"packet-buffered"}, set: func(o *Options, _ string) error { o.PacketBuffered = true; return nil }},
		{short: 'l', set: func(o *Options, _ string) error { o.PacketBuffered = true; return nil }},
		{short: 'w', value: true, set: func(o *Options, v string) error { o.Write = v; return nil }},
		{long: []string{"format"}, value: true, set: func(o *Options, v string) error {
			if v != agent.FormatPcap && v != agent.FormatPcapNG {
				return fmt.Errorf("--format %q: must be pcap or pcapng", v)
			}
			o.Spec.Format = v
			return nil
		}},
		{short: 't', set: func(o *Options, _ string) error { o.TimeFormat++; return nil }},
		// tcpdump -n: no name resolution. The lines never resolve names:
		// they are always as tcpdump -nn prints them.
		{short: 'n', set: func(*Options, string) error { return nil }},
		{short: 'S', long: []string{"absolute-tcp-sequence-numbers"}, set: func(o *Options, _ string) error { o.AbsoluteSeq = true; return nil }},
		{short: 'q', set: func(o *Options, _ string) error { o.Quick = true; return nil }},
		{short: 'e', set: func(o *Options, _ string) error { o.LinkHeader = true; return nil }},
		{short: 'x', set: func(o *Options, _ string) error { o.Hex++; return nil }},
		{short: 'X', set: func(o *Options, _ string) error { o.HexASCII++; return nil }},
		{short: 'A', set: func(o *Options, _ string) error { o.ASCII++; return nil }},
		{short: 'h', long: []string{"help"}, set: func(*Options, string) error { return flag.ErrHelp }},
	}
}

// maxRingKiB is -B's upper bound (2 GiB).
const maxRingKiB = 1 << 21

func cmpErr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// ParseArgs parses the command line as tcpdump's getopt does: options and
// expression words in any order ("--" ends the options), letters grouped
// ("-nni eth0") and values attached ("-s0"), plus the long options of the
// stop controls tcpdump lacks. A tcpdump option that is not implemented is
// refused with a message naming what to use instead. It returns
// flag.ErrHelp for -h.
func ParseArgs(args []string) (*Options, error) {
	o := &Options{}
	o.Spec.Bytes = -1
	o.Spec.Promiscuous = true
	table := options()
	byShort := map[byte]*opt{}
	byLong := map[string]*opt{}
	for i := range table {
		if table[i].short != 0 {
			byShort[table[i].short] = &table[i]
		}
		for _, l := range table[i].long {
			byLong[l] = &table[i]
		}
	}
	seen := map[*opt]string{} // how each option was written, for conflicts
	apply := func(op *opt, as, v string) error {
		seen[op] = as
		return op.set(o, v)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func(as string) (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s: needs a value", as)
			}
			i++
			return args[i], nil
		}
		switch {
		case a == "--":
			o.Words = append(o.Words, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--") || (strings.HasPrefix(a, "-") && slices.Contains(ourLong, strings.SplitN(a[1:], "=", 2)[0])):
			name, v, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			as := "--" + name
			if msg, ok := refusedLong[name]; ok {
				return nil, refusal(as, msg)
			}
			op := byLong[name]
			if op == nil {
				return nil, fmt.Errorf("%s: unknown option", as)
			}
			if op.short != 0 {
				as = "-" + string(op.short)
			}
			switch {
			case op.value && !hasValue:
				var err error
				if v, err = next(a); err != nil {
					return nil, err
				}
			case !op.value && hasValue:
				return nil, fmt.Errorf("%s: takes no value", a)
			}
			if err := apply(op, as, v); err != nil {
				return nil, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				c := a[j]
				if msg, ok := refusedShort[c]; ok {
					return nil, refusal("-"+string(c), msg)
				}
				op := byShort[c]
				if op == nil {
					return nil, fmt.Errorf("-%c: unknown option", c)
				}
				if !op.value {
					if err := apply(op, "-"+string(c), ""); err != nil {
						return nil, err
					}
					continue
				}
				v := a[j+1:]
				if v == "" {
					var err error
					if v, err = next("-" + string(c)); err != nil {
						return nil, err
					}
				}
				if err := apply(op, "-"+string(c), v); err != nil {
					return nil, err
				}
				break
			}
		default:
			o.Words = append(o.Words, a)
		}
	}
	return o, o.check(seen)
}

// printerOptions are the options of the line printer.
func (o *Options) printerOptions() pktsummary.Options {
	po := pktsummary.Options{AbsoluteSeq: o.AbsoluteSeq, Quick: o.Quick, LinkHeader: o.LinkHeader}
	switch {
	case o.HexASCII > 0:
		po.Dump, po.DumpLinkHeader = pktsummary.DumpHexASCII, o.HexASCII > 1
	case o.Hex > 0:
		po.Dump, po.DumpLinkHeader = pktsummary.DumpHex, o.Hex > 1
	case o.ASCII > 0:
		po.Dump, po.DumpLinkHeader = pktsummary.DumpASCII, o.ASCII > 1
	}
	return po
}

// check refuses what does not go together.
func (o *Options) check(seen map[*opt]string) error {
	switch {
	case o.TimeFormat > 5:
		return errors.New("-t: only -t, -tt, -ttt, -tttt and -ttttt are supported")
	case o.Read != "" && len(o.Spec.Interfaces) > 0:
		return errors.New("-r and -i: read a file or capture on interfaces, not both")
	case o.Read == "" && len(o.Spec.Interfaces) == 0:
		return errors.New("-i IFACE (capture) or -r FILE (read a file) is required")
	case len(o.Spec.Interfaces) > 1 && o.Spec.Format == agent.FormatPcap:
		return fmt.Errorf("--format pcap: a capture on several interfaces (%s) is one merged pcapng file",
			strings.Join(o.Spec.Interfaces, ", "))
	}
	if o.Read != "" {
		// What only a live capture has: tcpdump ignores it with -r, which
		// hides a mistake; say so instead.
		for op, as := range seen {
			if op.short == 'B' || op.short == 'p' || op.short == 'Q' || op.short == 's' ||
				slices.Contains(op.long, "duration") || slices.Contains(op.long, "timeout") {
				return fmt.Errorf("%s has no meaning with -r (no interface is opened; the file's snap length applies)", as)
			}
		}
	}
	if len(o.Spec.Interfaces) > 0 {
		o.Spec.Interface = o.Spec.Interfaces[0]
		if len(o.Spec.Interfaces) == 1 {
			o.Spec.Interfaces = nil
		}
	}
	return nil
}

// setSeconds sets a time limit given as seconds ("2", "0.5") or as a Go
// duration ("300ms").
func setSeconds(name string, dst *time.Duration, s string) error {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v < 0 || v > 1e9 {
			return fmt.Errorf("%s %q: seconds out of range", name, s)
		}
		*dst = time.Duration(v * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%s %q: neither a number of seconds nor a duration", name, s)
	}
	*dst = d
	return nil
}

// RefusedError is a tcpdump option that pcapdaemon capture does not
// implement; its message names what to use instead.
type RefusedError struct {
	Option string // as written: "-C", "--nano"
	Msg    string
}

func (e *RefusedError) Error() string { return e.Msg }

func refusal(option, msg string) error { return &RefusedError{Option: option, Msg: msg} }
