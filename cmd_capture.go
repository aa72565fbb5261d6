package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/cli/capture"
)

const captureUsage = `usage: pcapdaemon capture -i IFACE[,IFACE...] [-i IFACE...] [-c PACKETS] [-C BYTES]
        [-G SECONDS] [-t SECONDS] [-s SNAPLEN] [-B KIB] [-w FILE|-]
        [--format pcap|pcapng] [-p] [EXPRESSION...]

Runs one capture through the daemon's capture engine (the same filter
compiler, TPACKET_V3 ring, stop controls and in-memory buffer as a request)
and prints tcpdump's messages on stderr: "listening on ..." once the socket
is armed with its filter, and at the end the counters "N packets captured",
"N packets received by filter" (frames that passed the kernel filter,
dropped ones included) and "N packets dropped by kernel".

The capture stops at the first of -c, -C, -G and -t, or on SIGINT/SIGTERM;
it then writes what it holds. The whole file is held in memory until then,
which is why -C has a default.

Several interfaces (-i repeated, or a comma-separated list) are captured at
once into one pcapng file: one interface description block each, the
frames merged in timestamp order, and -c and -C count that one file (the
first frames in time across the interfaces); -t waits for silence on all
of them. A "listening on" line is printed per interface, and the counters
are the sums over the interfaces. Without -w the frame lines, each naming
its interface, are printed when the capture ends, in the file's order.

  -i IFACE     interface to capture on (required; several: see above)
  -c PACKETS   stop after PACKETS frames (default: no limit)
  -C BYTES     stop once the file holds BYTES bytes, headers included
               (default 100000000, the daemon's maxbytes; 0: no limit)
  -G SECONDS   stop SECONDS after the socket is armed (default: no limit)
  -t SECONDS   stop after SECONDS without a frame (default: no limit)
               SECONDS may be a number ("2.5") or a Go duration ("300ms").
  -s SNAPLEN   keep at most SNAPLEN bytes of each frame (default and 0: 262144)
  -B KIB       receive ring size in KiB, as tcpdump -B (default 8192)
  -w FILE      write the file to FILE (to a temporary name in the same
               directory, renamed at the end; mode 0666 less the umask,
               as tcpdump) or, with "-", to stdout.
               Without -w, one line per frame is printed on stdout
               (time, addresses, protocol, length) and no file is written.
  --format F   pcap (default, nanosecond timestamps) or pcapng; with
               several interfaces only pcapng, the default then
  -p           do not put the interface in promiscuous mode

EXPRESSION is a pcap-filter(7) expression; several arguments are joined by
spaces, as tcpdump does. Exit status: 0 after a capture, 1 when the capture
could not start (no such interface, a filter that does not compile, no
CAP_NET_RAW) or the file could not be written, 2 for a bad command line.
`

// captureDefaultBytes is -C's default: the daemon's maxbytes default, so
// that a forgotten limit does not take all the memory there is.
const captureDefaultBytes = agent.DefaultMaxBytes

// runCapture implements "pcapdaemon capture". It returns the exit status.
func runCapture(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Once the first signal ended the capture, a second one kills the
	// process as usual (in case writing the file hangs).
	context.AfterFunc(ctx, stop)
	return captureMain(ctx, args, stdout, stderr)
}

// captureOptions is the parsed command line.
type captureOptions struct {
	spec  agent.CaptureSpec
	write string // -w
}

// parseCaptureArgs parses the command line. It returns flag.ErrHelp for -h.
func parseCaptureArgs(args []string) (*captureOptions, error) {
	fs := flag.NewFlagSet("pcapdaemon capture", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := &captureOptions{}
	s := &o.spec
	var ifaces ifaceList
	fs.Var(&ifaces, "i", "")
	fs.Int64Var(&s.Packets, "c", 0, "")
	fs.Int64Var(&s.Bytes, "C", captureDefaultBytes, "")
	fs.Var((*secondsFlag)(&s.Duration), "G", "")
	fs.Var((*secondsFlag)(&s.Timeout), "t", "")
	fs.IntVar(&s.Snaplen, "s", 0, "")
	ringKiB := fs.Int64("B", agent.DefaultRingBytes>>10, "")
	fs.StringVar(&o.write, "w", "", "")
	fs.StringVar(&s.Format, "format", "", "")
	noPromisc := fs.Bool("p", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case len(ifaces) == 0:
		return nil, errors.New("-i IFACE is required")
	case len(ifaces) > 1 && s.Format == agent.FormatPcap:
		return nil, fmt.Errorf("--format pcap: a capture on several interfaces (%s) is one merged pcapng file",
			strings.Join(ifaces, ", "))
	case s.Packets < 0:
		return nil, fmt.Errorf("-c %d: must not be negative", s.Packets)
	case s.Bytes < 0:
		return nil, fmt.Errorf("-C %d: must not be negative", s.Bytes)
	case s.Snaplen < 0:
		return nil, fmt.Errorf("-s %d: must not be negative", s.Snaplen)
	case *ringKiB <= 0 || *ringKiB > 1<<21:
		return nil, fmt.Errorf("-B %d: must be between 1 and %d KiB", *ringKiB, 1<<21)
	case s.Format != "" && s.Format != agent.FormatPcap && s.Format != agent.FormatPcapNG:
		return nil, fmt.Errorf("--format %q: must be pcap or pcapng", s.Format)
	}
	s.Interface = ifaces[0]
	if len(ifaces) > 1 {
		s.Interfaces = ifaces
	}
	s.RingBytes = *ringKiB << 10
	s.Promiscuous = !*noPromisc
	s.Filter = strings.Join(fs.Args(), " ")
	return o, nil
}

// captureMain parses the command line and runs the capture
// (internal/cli/capture) until it ends or ctx does.
func captureMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseCaptureArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, captureUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pcapdaemon capture: %v\n", err)
		fmt.Fprint(stderr, captureUsage)
		return 2
	}
	return capture.Run(ctx, capture.Options{Spec: o.spec, Write: o.write}, stdout, stderr)
}

// ifaceList is -i: given several times and/or as a comma-separated list,
// each name once, in the order given.
type ifaceList []string

func (l *ifaceList) String() string { return strings.Join(*l, ",") }

func (l *ifaceList) Set(s string) error {
	for name := range strings.SplitSeq(s, ",") {
		if name == "" {
			return fmt.Errorf("%q: empty interface name", s)
		}
		if !slices.Contains(*l, name) {
			*l = append(*l, name)
		}
	}
	return nil
}

// secondsFlag is a time limit given as seconds ("2", "0.5") or as a Go
// duration ("300ms").
type secondsFlag time.Duration

func (f *secondsFlag) String() string { return time.Duration(*f).String() }

func (f *secondsFlag) Set(s string) error {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v < 0 || v > 1e9 {
			return fmt.Errorf("%q seconds is out of range", s)
		}
		*f = secondsFlag(v * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is neither a number of seconds nor a duration", s)
	}
	*f = secondsFlag(d)
	return nil
}
