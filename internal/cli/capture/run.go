package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/pktsummary"
)

// Options are the parsed command line of "pcapdaemon capture".
type Options struct {
	// Spec is the capture: interfaces, filter, stop controls, ring. Its
	// Armed and PacketOn are Run's.
	Spec agent.CaptureSpec
	// Write is -w: a file, "-" for stdout, or "" to print one line per
	// frame instead of writing a file.
	Write string
}

// Run runs the capture until it stops (a limit, or ctx ends) and writes
// what it holds; tcpdump's messages go to stderr. It returns the exit
// status: 0 after a capture, 1 when it could not start (no such interface,
// a filter that does not compile, no CAP_NET_RAW), the file could not be
// written or a read error ended it.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) int {
	r := &run{o: o, stdout: stdout, stderr: stderr}
	// Open the output before capturing, as tcpdump does, so that an
	// unwritable destination fails at once.
	if o.Write != "" && o.Write != "-" {
		out, err := createAtomic(o.Write)
		if err != nil {
			return r.fail(err)
		}
		defer out.abort()
		r.out = out
	}
	sum, data, err := agent.CaptureOnce(ctx, r.spec())
	if data == nil {
		var ce *bpfcompile.Error
		if errors.As(err, &ce) {
			return r.fail(fmt.Errorf("filter %q: %s: %s", o.Spec.Filter, ce.Pos, ce.Msg))
		}
		return r.fail(err)
	}
	status := 0
	if err != nil { // a read error ended the capture: keep what it holds
		fmt.Fprintf(stderr, "pcapdaemon capture: %v\n", err)
		status = 1
	}
	if werr := r.write(data); werr != nil {
		status = r.fail(werr)
	}
	if sum.StopReason == agent.StopShutdown {
		fmt.Fprintln(stderr) // tcpdump ends the "^C" line on a signal
	}
	fmt.Fprint(stderr, counterLines(sum))
	return status
}

// run is one run of the command.
type run struct {
	o              Options
	stdout, stderr io.Writer
	out            *atomicFile // -w FILE
}

// fail prints err as the command's one error line and returns status 1.
func (r *run) fail(err error) int {
	fmt.Fprintf(r.stderr, "pcapdaemon capture: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
	return 1
}

// spec is the capture with tcpdump's "listening on" line when a socket is
// armed and, without -w, a line per frame. The agent calls Armed and
// PacketOn one at a time (several interfaces: from several goroutines),
// each interface's Armed first.
func (r *run) spec() agent.CaptureSpec {
	spec := r.o.Spec
	names := spec.Interfaces
	if len(names) == 0 {
		names = []string{spec.Interface}
	}
	linkTypes := make([]uint32, len(names))
	spec.Armed = func(info agent.CaptureInfo) {
		if i := slices.Index(names, info.Interface); i >= 0 {
			linkTypes[i] = info.LinkType
		}
		fmt.Fprintln(r.stderr, listeningLine(info))
		if info.UserFilter {
			where := ""
			if len(names) > 1 {
				where = info.Interface + ": "
			}
			fmt.Fprintf(r.stderr, "pcapdaemon capture: %sthe kernel refused the filter program: filtering in user space\n", where)
		}
	}
	if r.o.Write == "" {
		spec.PacketOn = func(i int, ts int64, data []byte, wire int) {
			where := ""
			if len(names) > 1 { // as tcpdump -i any names the interface
				where = names[i] + " "
			}
			fmt.Fprintf(r.stdout, "%s %s%s, length %d\n",
				time.Unix(0, ts).Format("15:04:05.000000"), where, pktsummary.Summarize(linkTypes[i], data), wire)
		}
	}
	return spec
}

// write writes the capture where -w says: stdout ("-"), the file, or
// nowhere (the frames were printed).
func (r *run) write(data agent.CaptureData) error {
	switch r.o.Write {
	case "":
		return nil
	case "-":
		if _, err := io.Copy(r.stdout, data.NewReader()); err != nil {
			return fmt.Errorf("writing to stdout: %w", err)
		}
		return nil
	}
	return r.out.commit(data.NewReader())
}
