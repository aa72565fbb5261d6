package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/retry"
)

// Config configures a Spool.
type Config struct {
	// Dir is the spool directory ([general] spooldir); empty turns the
	// spool off: failures are then reported as lost.
	Dir string
	// Interval is the first delay before a spooled capture is tried again
	// (default 30s); it doubles with every failed round, up to MaxInterval
	// (default 30m).
	Interval    time.Duration
	MaxInterval time.Duration
	// MaxAge is how long a capture is retried (default 24h); then its entry
	// is renamed *.failed, kept for an operator, and no longer retried.
	MaxAge time.Duration
	// MaxBytes caps the capture files kept in Dir ([general]
	// spoolmaxbytes; 0: no cap). A capture that would take the spool past
	// it displaces the oldest spooled captures (each reported to OnDropped
	// and logged as an error); one larger than MaxBytes is not spooled
	// (ErrTooLarge).
	MaxBytes int64
	// OnDelivered, if set, is called after a retry round in which a
	// spooled capture reached at least one sink, so that its result can be
	// published again (see Delivery).
	OnDelivered func(ctx context.Context, d Delivery)
	// OnDropped, if set, is called for every spooled capture dropped to
	// make room (see MaxBytes).
	OnDropped func(e Entry, size int64)

	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Spool delivers captures to its sinks and keeps those that failed. It
// implements agent.Sink and is safe for concurrent use.
type Spool struct {
	cfg   Config
	pace  retry.Policy // Interval doubling up to MaxInterval, no jitter
	sinks []agent.Sink
	log   *slog.Logger

	runMu sync.Mutex // one retry round at a time
	// dirMu orders the changes of the directory's entries (a new entry and
	// the drops that make room for it, an entry's removal or update after
	// a retry), never held while a sink delivers.
	dirMu sync.Mutex
	// syncDir makes a rename in a directory durable (fsync of the
	// directory); replaced by tests.
	syncDir func(dir string) error
}

// New returns a Spool over sinks. With cfg.Dir set, the directory is
// created (0700) if needed and must be writable.
func New(cfg Config, sinks []agent.Sink, log *slog.Logger) (*Spool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(sinks) == 0 {
		return nil, errors.New("spool: no sinks")
	}
	seen := map[string]bool{}
	for _, s := range sinks {
		if seen[s.Name()] {
			return nil, fmt.Errorf("spool: two sinks named %q", s.Name())
		}
		seen[s.Name()] = true
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.MaxInterval <= 0 {
		cfg.MaxInterval = 30 * time.Minute
	}
	cfg.MaxInterval = max(cfg.MaxInterval, cfg.Interval)
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("spool: directory %s: %w", cfg.Dir, err)
		}
		f, err := os.CreateTemp(cfg.Dir, ".probe-*")
		if err != nil {
			return nil, fmt.Errorf("spool: directory %s is not writable: %w", cfg.Dir, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	if cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("spool: maximum size %d is negative", cfg.MaxBytes)
	}
	pace := retry.Policy{Initial: cfg.Interval, Max: cfg.MaxInterval}
	return &Spool{cfg: cfg, pace: pace, sinks: sinks, log: log.With("component", "spool"), syncDir: syncDir}, nil
}

// Name returns the wrapped sinks' names joined by "+".
func (s *Spool) Name() string {
	names := make([]string, len(s.sinks))
	for i, k := range s.sinks {
		names[i] = k.Name()
	}
	return strings.Join(names, "+")
}

// Deliver hands c to every sink and returns the locations it reached,
// joined by newlines (see DeliverAll, which returns them as a slice).
func (s *Spool) Deliver(ctx context.Context, c *agent.Capture) (string, error) {
	locs, err := s.DeliverAll(ctx, c)
	return strings.Join(locs, "\n"), err
}

// DeliverAll hands c to every sink in turn and returns the locations of
// those that took it.
//
//   - every sink took it: the locations, nil;
//   - some did: their locations and nil; with a spool directory the capture
//     is spooled for the others (a Warn is logged either way);
//   - none did, with a spool directory: no location and a *SpooledError
//     (the capture is safe on disk and will be retried);
//   - none did, without one (or the spool write failed, or no failure can
//     be retried): no location and a *LostError.
func (s *Spool) DeliverAll(ctx context.Context, c *agent.Capture) ([]string, error) {
	var (
		locs     []string
		failures []SinkError
	)
	for _, k := range s.sinks {
		loc, err := k.Deliver(ctx, c)
		if err != nil {
			failures = append(failures, SinkError{Sink: k.Name(), Err: err})
			continue
		}
		locs = append(locs, loc)
	}
	if len(failures) == 0 {
		return locs, nil
	}
	var pending []string
	for _, f := range failures {
		if retryable(f.Err) {
			pending = append(pending, f.Sink)
		}
	}
	var path string
	var spoolErr error
	if s.cfg.Dir != "" && len(pending) > 0 {
		path, spoolErr = s.write(c, pending, failures)
		if spoolErr != nil {
			s.log.Error("cannot spool capture", "file", c.FileName, "id", c.ID, "err", spoolErr)
		}
	}
	if len(locs) > 0 {
		for _, f := range failures {
			s.log.Warn("sink failed; capture delivered elsewhere", "sink", f.Sink, "id", c.ID,
				"spooled", path != "" && spoolErr == nil, "err", f.Err)
		}
		return locs, nil
	}
	if path != "" && spoolErr == nil {
		e := &SpooledError{Path: path, Failures: failures}
		s.log.Warn("every sink failed; capture spooled", "id", c.ID, "path", path, "err", e)
		return nil, e
	}
	e := &LostError{FileName: c.FileName, Packets: c.Packets, Failures: failures, SpoolErr: spoolErr, NoSpool: s.cfg.Dir == ""}
	if c.Data != nil {
		e.Bytes = c.Data.Len()
	}
	s.log.Error("capture lost", "id", c.ID, "err", e)
	return nil, e
}

// retryable reports whether a later attempt could succeed: not for errors
// that say so (an Unretryable() bool method returning true, such as a
// refused S3 override).
func retryable(err error) bool {
	var u interface{ Unretryable() bool }
	if errors.As(err, &u) && u.Unretryable() {
		return false
	}
	return true
}

// backoff is the delay after the n-th failed retry round (n from 1; 0 for
// the wait after the first delivery failed): Interval doubled n times,
// capped at MaxInterval.
func (s *Spool) backoff(n int) time.Duration { return s.pace.Delay(n + 1) }

// Delivery reports what one retry round delivered of a spooled capture
// (Config.OnDelivered), so that the capture's result can say where it is.
type Delivery struct {
	// Capture describes the spooled capture; its Data is nil.
	Capture agent.Capture
	// Path is the spooled capture file: the location the spool returned
	// when it kept the capture.
	Path string
	// Bytes is the size of the capture file.
	Bytes int64
	// Locations are where the capture was delivered in this round, one for
	// each sink that took it.
	Locations []string
	// Pending maps each sink still owed the capture to its last failure;
	// empty when the capture is fully delivered and Path removed.
	Pending map[string]string
}
