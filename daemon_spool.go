package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/sink/spool"
)

// spoolRetry is the first delay before a spooled capture is tried again;
// it doubles with each failed round (the spool caps it at 30 minutes). A
// sink that was down for a moment (an S3 endpoint restarting) gets its
// captures within seconds; one down for hours is not hammered.
const spoolRetry = 5 * time.Second

// spoolSwitch is the agent's spool (its Sink for captures every sink
// failed) and the spool's retry loop, both following the configuration: a
// reload that changes the sinks or the spool directory replaces the Spool,
// so that spooled captures go to the sinks configured now. The spool's
// state is its directory, so nothing is lost in the exchange.
type spoolSwitch struct {
	log *slog.Logger

	changed chan struct{} // signalled by set

	mu  sync.Mutex
	cur *spool.Spool // nil: no spool directory configured
}

func newSpoolSwitch(log *slog.Logger) *spoolSwitch {
	return &spoolSwitch{log: log, changed: make(chan struct{}, 1)}
}

var _ agent.Sink = (*spoolSwitch)(nil)

// prepare builds the Spool for dir and sinks (nil when dir is empty)
// without putting it in use.
func (s *spoolSwitch) prepare(dir string, sinks []agent.Sink) (*spool.Spool, error) {
	if dir == "" {
		return nil, nil
	}
	return spool.New(spool.Config{Dir: dir, Interval: spoolRetry}, sinks, s.log)
}

// set puts sp in use (nil turns spooling off) and restarts the retry loop
// on it.
func (s *spoolSwitch) set(sp *spool.Spool) {
	s.mu.Lock()
	s.cur = sp
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *spoolSwitch) current() *spool.Spool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Name implements agent.Sink.
func (s *spoolSwitch) Name() string { return "spool" }

// Deliver writes c into the current spool directory.
func (s *spoolSwitch) Deliver(ctx context.Context, c *agent.Capture) (string, error) {
	sp := s.current()
	if sp == nil {
		return "", spool.ErrNoSpool
	}
	return sp.Keeper().Deliver(ctx, c)
}

// Run retries the current spool until ctx ends. When the spool is replaced
// it stops the old loop, waits for it (so that no capture is delivered
// twice by two loops), and starts the new one with a round over every
// spooled capture, due or not: a reload is often the fix (a credential, an
// endpoint) that the spooled captures were waiting for. It returns nil.
func (s *spoolSwitch) Run(ctx context.Context) error {
	for first := true; ; first = false {
		// Take the pending signal first, then the spool: a set in between
		// leaves its signal for the next round, never a stale spool running.
		select {
		case <-s.changed:
		default:
		}
		sp := s.current()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if sp == nil {
				return
			}
			if !first {
				if n := sp.RetryAll(rctx); n > 0 {
					s.log.Info("spooled captures delivered after the reload", "captures", n)
				}
			}
			_ = sp.Run(rctx) // returns rctx's error
		}()
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case <-s.changed:
			cancel()
			<-done
		}
	}
}
