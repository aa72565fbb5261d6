package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pcapdaemon/pcapdaemon/internal/cli/capture"
)

const captureUsage = `usage: pcapdaemon capture -i IFACE[,IFACE] | -r FILE [-c PACKETS] [--bytes N] [--duration S]
        [--timeout S] [-s SNAP] [-B KIB] [-p] [-Q in|out|inout] [-F FILE] [-U] [-S] [-q] [-e]
        [-x|-xx|-X|-XX|-A|-AA] [-w FILE|-] [--format pcap|pcapng] [EXPRESSION]

Runs one capture through the daemon's capture engine (the same filter
compiler, TPACKET_V3 ring, stop controls and in-memory buffer as a request),
or reads a capture file (-r), and prints tcpdump's messages on stderr:
"listening on ..." once the socket is armed with its filter ("reading from
file ..." for -r), and at the end of a capture the counters "N packets
captured", "N packets received by filter" (frames that passed the kernel
filter, dropped ones included) and "N packets dropped by kernel".

Every tcpdump option it takes means what it means in tcpdump, written as
tcpdump takes it: options before or after the expression, letters grouped
(-ni eth0), values attached (-s0), "--" before an expression that starts
with "-". The stop controls tcpdump lacks are long options named like the
request's fields. tcpdump options it does not implement (file rotation -C,
-G, -W; -v, -y, -Z, ...) are refused with a message naming
what to use instead.

  -i IFACE     interface to capture on; several (-i repeated, or a comma-
               separated list) are captured into one pcapng file, frames
               merged in timestamp order, one interface block each; "any"
               captures on all (link type LINUX_SLL2, lines name the
               interface and direction as tcpdump's do)
  -r FILE      read a pcap or pcapng file ("-": stdin) instead, filtered as
               tcpdump -r would: the expression compiled for the file's
               link type (per interface of a pcapng file)
  -c PACKETS   stop after PACKETS frames (1 or more; default: no limit)
  --bytes N    stop once the file holds N bytes, headers included (0: no
               limit; default 100000000, the daemon's maxbytes, for a
               capture, which holds its file in memory; none for -r)
  --duration S stop S seconds after the socket is armed (default: no limit)
  --timeout S  stop after S seconds without a frame (default: no limit)
               S may be a number ("2.5") or a Go duration ("300ms").
  -s SNAP      keep at most SNAP bytes of each frame (default and 0: 262144)
  -B KIB       receive ring size in KiB (default: room for the whole file
               at full-size frames, from --bytes, -c and -s, 8 MiB to
               1 GiB: the frames stay in the ring until the file is written)
  -p           do not put the interface in promiscuous mode
  -Q DIR       in: only frames the host received; out: only those it sent;
               inout: both (the default)
  -F FILE      read the expression from FILE ('#' starts a comment); an
               expression on the command line is then ignored, as tcpdump does
  -U           flush the output after every frame (-w), so that a reader of
               the file sees each one as it is written; -l does the same for
               the lines
  -w FILE      write the file to FILE or, with "-", to stdout. Written to
               stdout, a pipe or a device, the file streams: its header at
               once, then each frame as it is read (flushed within 10 ms,
               with -U at once), so "-w - | tcpdump -r -" shows them live;
               with -U a regular file is written in place as it grows;
               otherwise it is written when the capture ends (to a temporary
               name in the same directory, renamed; mode 0666 less the
               umask, as tcpdump). A capture on several interfaces is written
               when it ends: only then is the merged order known.
               Without -w, one line per frame is printed on stdout, byte
               for byte as tcpdump -nn prints it for Ethernet, Linux
               cooked (-i any), raw IP and loopback frames carrying ARP,
               IPv4/IPv6, TCP, UDP, ICMP, ICMPv6 and DNS (application
               protocols other than DNS and HTTP's first line, e.g. NTP,
               are not decoded: the line ends after the transport's); -t,
               -tt, -ttt, -tttt, -ttttt choose the time format as in tcpdump.
  --format F   pcap (default, nanosecond timestamps) or pcapng; with
               several interfaces only pcapng, the default then
  -n           accepted: names are never resolved (the lines are always
               as with tcpdump -nn)
  -S           absolute TCP sequence numbers in the lines (default:
               relative to each connection's first, as tcpdump)
  -q           quick lines, as tcpdump -q ("tcp 0")
  -e           each line starts with the link-level header, as tcpdump -e
               ("MAC > MAC, ethertype IPv4 (0x0800), length N: ")
  -x, -X, -A   after each line, the frame's bytes after the link-level
               header in hex (-x), hex and ASCII (-X) or as text (-A), as
               tcpdump prints them; -xx, -XX, -AA from the frame's start

The capture stops at the first of -c, --bytes, --duration and --timeout, or
on SIGINT/SIGTERM; -r stops at the end of the file, -c or --bytes.
EXPRESSION is a pcap-filter(7) expression; several arguments are joined by
spaces, as tcpdump does. Exit status: 0 after a capture, 1 when the capture
could not start (no such interface, a filter that does not compile, no
CAP_NET_RAW, a file that cannot be read) or the output could not be
written, 2 for a bad command line.
`

// runCapture implements "pcapdaemon capture". It returns the exit status.
func runCapture(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Once the first signal ended the capture, a second one kills the
	// process as usual (in case writing the file hangs).
	context.AfterFunc(ctx, stop)
	return captureMain(ctx, args, stdout, stderr)
}

// captureMain parses the command line (internal/cli/capture.ParseArgs,
// tcpdump's getopt rules) and runs the capture until it ends or ctx does.
func captureMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := capture.ParseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, captureUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pcapdaemon capture: %v\n", err)
		var refused *capture.RefusedError
		if !errors.As(err, &refused) { // the refusal says what to do
			fmt.Fprint(stderr, captureUsage)
		}
		return 2
	}
	return capture.Run(ctx, o, os.Stdin, stdout, stderr)
}
