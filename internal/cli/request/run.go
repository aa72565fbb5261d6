package request

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pcapdaemon/pcapdaemon/transport"
)

// Options are the parsed command line of "pcapdaemon request".
type Options struct {
	Transport TransportFlags
	// File is -f: a JSON object to start the message from ("-" for
	// stdin, "" none).
	File string
	// Fields are the message fields given as flags, by JSON name, with
	// their JSON values; they replace File's.
	Fields map[string]any
	// Wait waits for the result events and prints them, for WaitTime (0:
	// the request's duration and timeout plus requestSlack) or until Count
	// arrived (0: every one expected).
	Wait     bool
	WaitTime time.Duration
	Count    int
}

// Command is one run of "pcapdaemon request", with its I/O, environment
// and clock.
type Command struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Environ        []string
	Now            func() time.Time
	TTY            bool          // Stderr is a terminal: redraw the status lines
	PollEvery      time.Duration // HTTP API polling (default 500ms)
}

// UsageError reports err, a bad command line or message, and returns exit
// status 2.
func (c *Command) UsageError(err error) int {
	fmt.Fprintf(c.Stderr, "pcapdaemon request: %v\n", err)
	fmt.Fprintln(c.Stderr, "Run 'pcapdaemon request -h' for the flags.")
	return 2
}

func (c *Command) fail(format string, args ...any) int {
	fmt.Fprintf(c.Stderr, "pcapdaemon request: "+format+"\n", args...)
	return 1
}

// Run publishes the request o describes and, with o.Wait, waits for its
// results. It returns the exit status: 0 when every result is ok or empty
// (or, without -wait, the request was published), 1 for an error or
// rejected result, a missing result or a failure to publish, 2 for a bad
// command line or message.
func (c *Command) Run(ctx context.Context, o Options) int {
	ts, err := Resolve(o.Transport, c.Environ)
	if err != nil {
		return c.UsageError(err)
	}
	msg, req, err := BuildMessage(o.File, c.Stdin, o.Fields, c.Now())
	if err != nil {
		return c.UsageError(err)
	}
	if o.Wait && ts.Via == "sqs" && ts.SQS.ResultsURL == "" && ts.HTTPURL == "" {
		return c.UsageError(errors.New("-wait over SQS needs the results queue (-sqsresultsurl or [sqs] resultsurl) or the HTTP API (-http)"))
	}
	body := msg
	if ts.HMACKey != "" {
		// The signed envelope the daemon's [security] hmackey requires.
		body = transport.Sign([]byte(ts.HMACKey), msg, c.Now())
	}

	tr, err := ts.open(ctx, c.PollEvery)
	if err != nil {
		return c.fail("%v", err)
	}
	defer tr.close()

	if !o.Wait {
		info, err := tr.publish(ctx, body)
		if err != nil {
			return c.fail("%v", err)
		}
		fmt.Fprintln(c.Stdout, req.ID)
		if info.note != "" {
			fmt.Fprintf(c.Stderr, "pcapdaemon request: %s\n", info.note)
		}
		return 0
	}

	waitTime := o.WaitTime
	if waitTime == 0 {
		waitTime = defaultWaitTime(req, ts.MaxDuration, ts.DefaultTimeout)
	}
	w := newWaiter(req, waitTime, o.Count, c.Now(), c.Stdout, c.Stderr, c.TTY)
	w.now = c.Now
	return c.waitFor(ctx, tr, ts, w, req, body)
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
