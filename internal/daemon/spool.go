package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/sink/spool"
)

// spoolRetry is the first delay before a spooled capture is tried again;
// it doubles with each failed round (the spool caps it at 30 minutes). A
// sink that was down for a moment (an S3 endpoint restarting) gets its
// captures within seconds; one down for hours is not hammered.
const spoolRetry = 5 * time.Second

// spoolConf is a Spool and what the switch knows of the configuration it
// was built for.
type spoolConf struct {
	sp       *spool.Spool // nil: no spool directory configured
	sinks    []string     // the configured sinks' names
	maxBytes int64        // [general] spoolmaxbytes
	reserve  int64        // [general] maxbytes: the room one more capture may need
}

// spoolSwitch is the agent's spool (its Sink for captures every sink
// failed) and the spool's retry loop, both following the configuration: a
// reload that changes the sinks or the spool directory replaces the Spool,
// so that spooled captures go to the sinks configured now. The spool's
// state is its directory, so nothing is lost in the exchange. It reports
// what the spool delivers later to the agent (reportTo), and what it drops
// to the metrics.
type spoolSwitch struct {
	log      *slog.Logger
	dropped  func(size int64) // counts a capture dropped to make room
	interval time.Duration    // the spools' first retry delay (spoolRetry)

	changed chan struct{} // signalled by set

	mu     sync.Mutex
	cur    *spoolConf
	gen    uint64 // how many times set was called: the generation of cur
	report func(agent.Redelivery)
}

func newSpoolSwitch(log *slog.Logger, dropped func(size int64)) *spoolSwitch {
	if dropped == nil {
		dropped = func(int64) {}
	}
	return &spoolSwitch{log: log, dropped: dropped, interval: spoolRetry, changed: make(chan struct{}, 1), cur: &spoolConf{}}
}

var _ agent.Sink = (*spoolSwitch)(nil)

// prepare builds the Spool for g's spool settings and sinks (none when
// g.SpoolDir is empty) without putting it in use.
func (s *spoolSwitch) prepare(g config.General, sinks []agent.Sink) (*spoolConf, error) {
	c := &spoolConf{sinks: sinkNames(sinks), maxBytes: g.SpoolMaxBytes, reserve: g.MaxBytes}
	if g.SpoolDir == "" {
		return c, nil
	}
	sp, err := spool.New(spool.Config{
		Dir: g.SpoolDir, Interval: s.interval, MaxBytes: g.SpoolMaxBytes,
		OnDelivered: s.delivered,
		OnDropped:   func(_ spool.Entry, size int64) { s.dropped(size) },
	}, sinks, s.log)
	if err != nil {
		return nil, err
	}
	c.sp = sp
	return c, nil
}

// set puts c in use (c.sp nil turns spooling off) and restarts the retry
// loop on it.
func (s *spoolSwitch) set(c *spoolConf) {
	s.mu.Lock()
	s.cur = c
	s.gen++
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// current returns the spool in use and its generation.
func (s *spoolSwitch) current() (*spoolConf, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.gen
}

// reportTo sends every later delivery of a spooled capture to f (the
// agent's Redelivered, which publishes the updated result).
func (s *spoolSwitch) reportTo(f func(agent.Redelivery)) {
	s.mu.Lock()
	s.report = f
	s.mu.Unlock()
}

// delivered is the spools' OnDelivered.
func (s *spoolSwitch) delivered(_ context.Context, d spool.Delivery) {
	s.mu.Lock()
	f := s.report
	s.mu.Unlock()
	if f == nil {
		return
	}
	c := d.Capture
	f(agent.Redelivery{
		ID: c.ID, Node: c.Node, Interface: c.Interface, Packets: c.Packets, Bytes: d.Bytes,
		Started: c.Started, Ended: c.Ended, Spooled: d.Path, Locations: d.Locations, Pending: d.Pending,
	})
}

// Name implements agent.Sink.
func (s *spoolSwitch) Name() string { return "spool" }

// Deliver writes c into the current spool directory.
func (s *spoolSwitch) Deliver(ctx context.Context, c *agent.Capture) (string, error) {
	cur, _ := s.current()
	if cur.sp == nil {
		return "", spool.ErrNoSpool
	}
	return cur.sp.Keeper().Deliver(ctx, c)
}

// Run retries the current spool until ctx ends. When the spool is replaced
// it stops the old loop, waits for it (so that no capture is delivered
// twice by two loops), and starts the new one with a round over every
// spooled capture, due or not: a reload is often the fix (a credential, an
// endpoint) that the spooled captures were waiting for. The spool set
// first (at start) is not such a replacement; which one is, is told by its
// generation, not by when Run happens to see it. It returns nil.
func (s *spoolSwitch) Run(ctx context.Context) error {
	for {
		// Take the pending signal first, then the spool: a set in between
		// leaves its signal for the next round, never a stale spool running.
		select {
		case <-s.changed:
		default:
		}
		cur, gen := s.current()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if cur.sp == nil {
				return
			}
			if gen > 1 {
				if n := cur.sp.RetryAll(rctx); n > 0 {
					s.log.Info("spooled captures delivered after the reload", "captures", n)
				}
			}
			_ = cur.sp.Run(rctx) // returns rctx's error
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

// state is what the spool holds now, for the metrics.
func (s *spoolSwitch) state() metrics.SpoolState {
	cur, _ := s.current()
	if cur.sp == nil {
		return metrics.SpoolState{}
	}
	st := metrics.SpoolState{MaxBytes: cur.maxBytes}
	n, b, err := cur.sp.Usage()
	if err != nil {
		s.log.Warn("cannot measure the spool", "error", err)
		return st
	}
	st.Captures, st.Bytes = n, b
	return st
}

// canTakeCapture is the /readyz check "delivery": it fails when a capture
// finished now would be lost, that is when
//
//   - every configured sink's most recent delivery failed (failing returns
//     its error; a sink that has not delivered yet counts as working), and
//   - the spool cannot keep it: no spool directory is configured, or the
//     room left under spoolmaxbytes is less than maxbytes (the largest
//     capture a request may produce), so that it would displace older
//     spooled captures or be refused.
//
// The spool's retry rounds go through the same sinks: the first delivery
// that succeeds makes the daemon ready again.
func (s *spoolSwitch) canTakeCapture(failing func(sink string) error) error {
	cur, _ := s.current()
	var why []string
	for _, name := range cur.sinks {
		err := failing(name)
		if err == nil {
			return nil
		}
		why = append(why, fmt.Sprintf("%s: last delivery failed: %v", name, err))
	}
	switch {
	case cur.sp == nil:
		why = append(why, "no spool directory ([general] spooldir)")
	case cur.maxBytes > 0:
		_, used, err := cur.sp.Usage()
		if err != nil {
			why = append(why, fmt.Sprintf("spool: %v", err))
			break
		}
		if room := cur.maxBytes - used; room < cur.reserve {
			why = append(why, fmt.Sprintf("spool full: %d of %d bytes ([general] spoolmaxbytes) in use, less than maxbytes %d left",
				used, cur.maxBytes, cur.reserve))
			break
		}
		return nil
	default:
		return nil
	}
	return fmt.Errorf("no sink can take a capture: %s", strings.Join(why, "; "))
}

// journalDir is the journal's directory inside the spool directory.
const journalDir = "journal"

// openJournal opens the journal of running requests in spoolDir (none
// without a spool directory). It stays where it was opened: a reload that
// moves the spool directory moves the journal at the next start.
func openJournal(spoolDir string, log *slog.Logger) (*agent.FileJournal, error) {
	if spoolDir == "" {
		return nil, nil
	}
	return agent.OpenJournal(filepath.Join(spoolDir, journalDir), log)
}
