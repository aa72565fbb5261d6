package nodes

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/cli/request"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// Options are the parsed command line of "pcapdaemon nodes".
type Options struct {
	// Transport holds -config and the Redis flags given (-redis,
	// -redischannel, -redisuser, -redisauth).
	Transport request.TransportFlags
	// JSON prints the records as a JSON array instead of a table.
	JSON bool
}

// Command is one run of "pcapdaemon nodes", with its I/O, environment and
// clock.
type Command struct {
	Stdout, Stderr io.Writer
	Environ        []string
	Now            func() time.Time
}

// UsageError reports err, a bad command line, and returns exit status 2.
func (c *Command) UsageError(err error) int {
	fmt.Fprintf(c.Stderr, "pcapdaemon nodes: %v\n", err)
	fmt.Fprintln(c.Stderr, "Run 'pcapdaemon nodes -h' for the flags.")
	return 2
}

// Run lists the live agents and returns the exit status: 0 when the list
// was read (even empty), 1 when Redis could not be read, 2 for a bad
// command line or configuration.
func (c *Command) Run(ctx context.Context, o Options) int {
	f := o.Transport
	f.Via = "redis"
	ts, err := request.Resolve(f, c.Environ)
	if err != nil {
		return c.UsageError(err)
	}
	cl, err := redis.Dial(ts.Redis)
	if err != nil {
		fmt.Fprintf(c.Stderr, "pcapdaemon nodes: %v\n", err)
		return 1
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	nodes, err := cl.Nodes(ctx, ts.Channel)
	if err != nil {
		fmt.Fprintf(c.Stderr, "pcapdaemon nodes: %v\n", err)
		return 1
	}
	if o.JSON {
		err = writeJSON(c.Stdout, nodes)
	} else {
		err = writeTable(c.Stdout, nodes, c.Now())
	}
	if err != nil {
		fmt.Fprintf(c.Stderr, "pcapdaemon nodes: %v\n", err)
		return 1
	}
	if len(nodes) == 0 {
		fmt.Fprintf(c.Stderr, "pcapdaemon nodes: no agent keeps a presence record for channel %q on %v\n", ts.Channel, ts.Redis.Addrs)
	}
	return 0
}

// record is one agent in the -json output: its presence record, when it
// last renewed it, and why it could not be read (the rest then empty).
type record struct {
	agent.NodeInfo
	LastSeen *time.Time `json:"last_seen,omitempty"`
	Key      string     `json:"key"`
	Error    string     `json:"error,omitempty"`
}

func writeJSON(w io.Writer, nodes []redis.Node) error {
	out := make([]record, 0, len(nodes))
	for _, n := range nodes {
		r := record{NodeInfo: n.NodeInfo, Key: n.Key}
		if !n.LastSeen.IsZero() {
			r.LastSeen = &n.LastSeen
		}
		if n.Err != nil {
			r.Error = n.Err.Error()
		}
		out = append(out, r)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
