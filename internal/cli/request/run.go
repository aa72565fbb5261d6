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
	// Interrupted is closed at the first Ctrl-C (NotifyInterrupts): while
	// -wait waits, it cancels the request and waits on for the final
	// results; before, it ends the command. The context passed to Run
	// ends at the second. Nil: never.
	Interrupted <-chan struct{}
	// PresenceEvery is how often -wait checks that the agents it waits
	// for are still present (default presenceEvery).
	PresenceEvery time.Duration
}

// UsageError reports err, a bad command line or message, and returns exit
// status 2.
func (c *Command) UsageError(err error) int { return c.usage("request", err) }

// CancelUsageError is UsageError for "pcapdaemon cancel".
func (c *Command) CancelUsageError(err error) int { return c.usage("cancel", err) }

func (c *Command) usage(cmd string, err error) int {
	fmt.Fprintf(c.Stderr, "pcapdaemon %s: %v\n", cmd, err)
	fmt.Fprintf(c.Stderr, "Run 'pcapdaemon %s -h' for the flags.\n", cmd)
	return 2
}

func (c *Command) fail(format string, args ...any) int { return c.failAs("request", format, args...) }

func (c *Command) failAs(cmd, format string, args ...any) int {
	fmt.Fprintf(c.Stderr, "pcapdaemon "+cmd+": "+format+"\n", args...)
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
	if o.Wait && ts.Via == "sns" && ts.SQS.ResultsURL == "" {
		return c.UsageError(errors.New("-wait over SNS needs the results queue the agents publish on (-sqsresultsurl or [sqs] resultsurl)"))
	}
	body := ts.sign(msg, c.Now())

	// Until the results are waited for, the first Ctrl-C ends the command.
	early, stop := untilClosed(ctx, c.Interrupted)
	defer stop()
	tr, err := ts.open(early, c.PollEvery)
	if err != nil {
		return c.fail("%v", err)
	}
	defer tr.close()

	if !o.Wait {
		info, err := tr.publish(early, body)
		if err != nil {
			return c.fail("%v", err)
		}
		fmt.Fprintln(c.Stdout, req.ID)
		if info.note != "" {
			fmt.Fprintf(c.Stderr, "pcapdaemon request: %s\n", info.note)
		}
		return 0
	}

	span := captureSpan(req, ts.MaxDuration)
	var fl *fleet
	if src, ok := tr.(presenceSource); ok {
		fl, err = readFleet(early, src, req, ts.MaxDuration)
		switch {
		case early.Err() != nil:
			return c.fail("interrupted")
		case err != nil:
			// A Redis user that may only publish and subscribe.
			fmt.Fprintf(c.Stderr, "pcapdaemon request: %v: waiting for one answer per subscriber\n", err)
		case fl == nil:
			fmt.Fprintf(c.Stderr, "pcapdaemon request: no agent keeps a presence record on channel %q: waiting for one answer per subscriber\n", ts.Channel)
		case len(fl.expect) == 0:
			return c.fail("%s", fl.noneMatch(req))
		default:
			span = fl.span
			fmt.Fprintf(c.Stderr, "pcapdaemon request: %s\n", fl.describe(req.ID))
		}
	}
	waitTime := o.WaitTime
	if waitTime == 0 {
		waitTime = defaultWaitTime(span)
	}
	w := newWaiter(req, waitTime, o.Count, c.Now(), c.Stdout, c.Stderr, c.TTY)
	w.now = c.Now
	if fl != nil {
		w.expectFleet(fl.expect)
	}
	return c.waitFor(ctx, early, tr, ts, w, req, body, fl)
}

// sign wraps msg in the signed envelope the daemon's [security] hmackey
// requires, when a key is set.
func (ts *Settings) sign(msg []byte, now time.Time) []byte {
	if ts.HMACKey == "" {
		return msg
	}
	return transport.Sign([]byte(ts.HMACKey), msg, now)
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
