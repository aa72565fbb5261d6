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
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/cli/request"
)

const cancelUsage = `usage: pcapdaemon cancel [transport flags] ID

Cancels capture request ID on every agent that runs it: the message
{"cancel": "ID"} (signed with -hmackey) on the Redis channel, the SQS queue
or the SNS topic, or DELETE /v1/captures/ID on a daemon's HTTP API. The
captures end with stop reason "cancelled"; what they hold is delivered and
their results published as usual.
` + transportUsage + `
Exit status: 0 when the cancel was sent, 1 when it was not (no agent
subscribed, the daemon does not run ID), 2 for a bad command line.
`

// runCancel implements "pcapdaemon cancel" (internal/cli/request) and
// returns the exit status.
func runCancel(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := &request.Command{Stdout: stdout, Stderr: stderr, Environ: os.Environ(), Now: time.Now}
	o := request.CancelOptions{Transport: request.TransportFlags{Given: map[string]string{}}}
	fs := flag.NewFlagSet("pcapdaemon cancel", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // -h prints cancelUsage
	given := addTransportFlags(fs, &o.Transport)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, cancelUsage)
		return 0
	}
	if err == nil {
		err = given()
	}
	if err == nil && fs.NArg() != 1 {
		err = fmt.Errorf("want one request id, got %d arguments", fs.NArg())
	}
	if err != nil {
		return cmd.CancelUsageError(err)
	}
	o.ID = fs.Arg(0)
	return cmd.Cancel(ctx, o)
}
