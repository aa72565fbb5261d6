package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/savefile"
)

// Run runs the capture (or reads the -r file) until it stops (a limit, the
// file's end, or ctx ends) and writes what it holds; tcpdump's messages go
// to stderr. It returns the exit status: 0 after a capture, 1 when it
// could not start (no such interface, a filter that does not compile, no
// CAP_NET_RAW, a file that cannot be read), the output could not be
// written or a read error ended it.
func Run(ctx context.Context, o *Options, stdin io.Reader, stdout, stderr io.Writer) int {
	r := &run{o: o, stdout: stdout, stderr: stderr, lines: newLines(o)}
	expr, err := r.expression()
	if err != nil {
		return r.fail(err)
	}
	if o.Read != "" {
		return r.offline(ctx, stdin, expr)
	}
	return r.live(ctx, expr)
}

// run is one run of the command.
type run struct {
	o              *Options
	stdout, stderr io.Writer
	lines          *lines
}

// fail prints err as the command's one error line and returns status 1.
func (r *run) fail(err error) int {
	fmt.Fprintf(r.stderr, "pcapdaemon capture: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
	return 1
}

// expression is the filter: the -F file's text (tcpdump's '#' comments
// blanked out) or the command line's words joined by spaces.
func (r *run) expression() (string, error) {
	if r.o.FilterFile == "" {
		return strings.Join(r.o.Words, " "), nil
	}
	b, err := os.ReadFile(r.o.FilterFile)
	if err != nil {
		return "", fmt.Errorf("-F: %w", err)
	}
	if len(r.o.Words) > 0 {
		// tcpdump ignores them silently; say it.
		fmt.Fprintf(r.stderr, "pcapdaemon capture: -F %s: the expression on the command line (%s) is ignored, as tcpdump does\n",
			r.o.FilterFile, strings.Join(r.o.Words, " "))
	}
	for i := 0; i < len(b); i++ {
		if b[i] == '#' {
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' ' // keeps the positions of what follows
			}
		}
	}
	return string(b), nil
}

// filterError words a compile error as tcpdump's users read it: the
// expression and the position in it. prefix is the bytes put before the
// expression (-Q).
func (r *run) filterError(err error, expr string, prefix int) error {
	var ce *bpfcompile.Error
	if !errors.As(err, &ce) {
		return err
	}
	pos := ce.Pos
	if prefix > 0 || r.o.Direction == "in" || r.o.Direction == "out" {
		if pos.Offset < prefix || pos.Offset >= prefix+len(expr) {
			return fmt.Errorf("-Q %s: %s", r.o.Direction, ce.Msg)
		}
		pos.Offset -= prefix
		if pos.Line == 1 {
			pos.Col -= prefix
		}
	}
	return fmt.Errorf("filter %q: %s: %s", expr, pos, ce.Msg)
}

// withDirection is the filter with -Q's direction test: the compiler's
// "inbound"/"outbound" (the kernel's packet type, PACKET_OUTGOING or not).
// It returns the filter and how many bytes precede the expression in it.
func withDirection(expr, dir string) (string, int) {
	kw := map[string]string{"in": "inbound", "out": "outbound"}[dir]
	switch {
	case kw == "":
		return expr, 0
	case strings.TrimSpace(expr) == "":
		return kw, 0
	}
	return "(" + expr + ") and " + kw, 1
}

// live runs a capture on the interfaces.
func (r *run) live(ctx context.Context, expr string) int {
	o := r.o
	spec := o.Spec
	if spec.Bytes < 0 {
		// The whole file is held in memory until the end: a forgotten
		// limit must not take all the memory there is.
		spec.Bytes = agent.DefaultMaxBytes
	}
	var prefix int
	spec.Filter, prefix = withDirection(expr, o.Direction)
	if prefix > 0 {
		if _, err := bpfcompile.Parse(expr); err != nil { // its own positions
			return r.fail(r.filterError(err, expr, 0))
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	merged := len(spec.Interfaces) > 1
	names := spec.Interfaces
	if !merged {
		names = []string{spec.Interface}
	}

	// Open the output before capturing, as tcpdump does, so that an
	// unwritable destination fails at once. A single interface's file
	// streams to stdout, a FIFO or a socket, and with -U to any file; a
	// merged file is only known when the capture ends. A device
	// (/dev/null) gets it at the end, as a regular file does.
	var out *output
	var file *atomicFile
	streaming := false
	stopOnError := func(err error) { cancel(fmt.Errorf("writing the output: %w", err)) }
	switch o.Write {
	case "":
		out = newOutput(r.stdout, o.PacketBuffered, stopOnError)
	case "-":
		if streaming = !merged; streaming {
			out = newOutput(r.stdout, o.PacketBuffered, stopOnError)
		}
	default:
		var err error
		if file, err = createAtomic(o.Write, o.PacketBuffered && !merged); err != nil {
			return r.fail(err)
		}
		defer file.abort()
		if streaming = file.stream && !merged; streaming {
			out = newOutput(file.f, o.PacketBuffered, stopOnError)
		}
	}

	linkTypes := make([]uint32, len(names))
	var wr *savefile.Writer
	var werr error
	spec.Armed = func(info agent.CaptureInfo) {
		if i := slices.Index(names, info.Interface); i >= 0 {
			linkTypes[i] = info.LinkType
		}
		fmt.Fprintln(r.stderr, listeningLine(info))
		if info.UserFilter {
			where := ""
			if merged {
				where = info.Interface + ": "
			}
			fmt.Fprintf(r.stderr, "pcapdaemon capture: %sthe kernel refused the filter program: filtering in user space\n", where)
		}
		if streaming {
			// The header goes out at once: a reader of the pipe
			// (tcpdump -r -) starts before the first frame.
			wr, werr = newFileWriter(out, spec.Format, savefile.Interface{LinkType: info.LinkType, Snaplen: info.Snaplen, Name: info.Interface})
			out.written()
		}
	}
	switch {
	case o.Write == "":
		spec.PacketOn = func(i int, ts int64, data []byte, wire int) {
			where := ""
			if merged { // as tcpdump -i any names the interface
				where = names[i] + " "
			}
			_, _ = out.Write(r.lines.line(linkTypes[i], ts, where, data, wire))
			out.written()
		}
	case streaming:
		spec.Packet = func(ts int64, data []byte, wire int) {
			if wr != nil {
				_ = wr.WritePacket(0, ts, data, wire) // an error stops the capture (stopOnError)
				out.written()
			}
		}
	}

	// A file written at the end is written as soon as the capture ends,
	// while its last records are still being made (CaptureSpec.Output).
	committed := false
	var oerr error
	if out == nil && o.Write != "-" {
		spec.Output = func(data agent.CaptureData) {
			committed = true
			oerr = file.commit(data.NewReader())
		}
	}
	sum, data, err := agent.CaptureOnce(ctx, spec)
	if data == nil {
		return r.fail(r.filterError(err, expr, prefix))
	}
	status := 0
	if err != nil { // a read error ended the capture: keep what it holds
		fmt.Fprintf(r.stderr, "pcapdaemon capture: %v\n", err)
		status = 1
	}
	switch {
	case committed:
	case out != nil:
		oerr = errors.Join(werr, out.close())
		if oerr == nil && file != nil {
			oerr = file.finish()
		}
	case o.Write == "-":
		if _, err := io.Copy(r.stdout, data.NewReader()); err != nil {
			oerr = fmt.Errorf("writing to stdout: %w", err)
		}
	default:
		oerr = file.commit(data.NewReader())
	}
	if oerr != nil {
		status = r.fail(oerr)
	}
	if sum.StopReason == agent.StopShutdown && context.Cause(ctx) == context.Canceled {
		fmt.Fprintln(r.stderr) // tcpdump ends the "^C" line on a signal
	}
	fmt.Fprint(r.stderr, counterLines(sum))
	return status
}

// newFileWriter starts a file of format (pcap when "") with its first
// interface.
func newFileWriter(w io.Writer, format string, ifc savefile.Interface) (*savefile.Writer, error) {
	if format == agent.FormatPcapNG {
		wr, err := savefile.NewPcapngWriter(w)
		if err == nil {
			_, err = wr.AddInterface(ifc)
		}
		return wr, err
	}
	return savefile.NewPcapWriter(w, ifc.LinkType, ifc.Snaplen)
}
