package spool

import (
	"context"
	"errors"
	"fmt"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// ErrNoSpool is returned by the Keeper of a Spool without a directory.
var ErrNoSpool = errors.New("spool: no spool directory configured")

// Keeper returns an agent.Sink, named "spool", that only writes a capture
// into the spool, owed to every sink of s, and returns the spooled file's
// path; Run then delivers it. It is the agent's fallback for a capture that
// every sink failed to take (agent.WithSpool), when the agent does the
// fan-out to the sinks itself.
func (s *Spool) Keeper() agent.Sink { return keeper{s} }

type keeper struct{ s *Spool }

func (keeper) Name() string { return "spool" }

func (k keeper) Deliver(_ context.Context, c *agent.Capture) (string, error) {
	if k.s.cfg.Dir == "" {
		return "", ErrNoSpool
	}
	if c == nil {
		return "", errors.New("spool: nil capture")
	}
	names := make([]string, len(k.s.sinks))
	for i, sk := range k.s.sinks {
		names[i] = sk.Name()
	}
	path, err := k.s.write(c, names, nil)
	if err != nil {
		return "", fmt.Errorf("spool: keep %s in %s: %w", c.FileName, k.s.cfg.Dir, err)
	}
	k.s.log.Warn("capture spooled", "id", c.ID, "path", path, "pending", names)
	return path, nil
}
