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

	"github.com/pcapdaemon/pcapdaemon/internal/cli/nodes"
	"github.com/pcapdaemon/pcapdaemon/internal/cli/request"
)

const nodesUsage = `usage: pcapdaemon nodes [-redis ADDRS | -config FILE] [-channel C] [-json]

Lists the agents that keep a presence record on Redis (<channel>.node.<host>,
renewed every 10s, gone 30s after an agent dies): their name, version,
interfaces with aliases ("!": an alias names an interface the host lacks),
running requests and when each was last seen.

  -config FILE     read [redis] from the daemon's config file (flags override it)
  -redis ADDRS     Redis server host:port (comma list: cluster seeds)
  -channel NAME    request channel (default "capture")
  -redisuser NAME  Redis ACL user
  -redisauth PASS  Redis password (or $PCAPDAEMON_REDIS_AUTH)
  -json            print the records as a JSON array

Exit status: 0 when the records were read, 1 when Redis could not be
read, 2 for a bad command line.
`

// parseNodesFlags parses args. The error is a usage error (flag.ErrHelp
// for -h).
func parseNodesFlags(args []string) (*nodes.Options, error) {
	o := &nodes.Options{Transport: request.TransportFlags{Given: map[string]string{}}}
	fs := flag.NewFlagSet("pcapdaemon nodes", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // -h prints nodesUsage
	fs.StringVar(&o.Transport.Config, "config", "", "daemon config `file`")
	fs.BoolVar(&o.JSON, "json", false, "print JSON")
	given := map[string]*string{}
	for _, name := range []string{"redis", "channel", "redischannel", "redisuser", "redisauth"} {
		given[name] = fs.String(name, "", "")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "channel": // the request's -redischannel
			o.Transport.Given["redischannel"] = *given[f.Name]
		case "config", "json":
		default:
			o.Transport.Given[f.Name] = *given[f.Name]
		}
	})
	return o, nil
}

// runNodes implements "pcapdaemon nodes" (internal/cli/nodes) and returns
// the exit status.
func runNodes(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := &nodes.Command{Stdout: stdout, Stderr: stderr, Environ: os.Environ(), Now: time.Now}
	o, err := parseNodesFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, nodesUsage)
		return 0
	}
	if err != nil {
		return cmd.UsageError(err)
	}
	return cmd.Run(ctx, *o)
}
