package daemon

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/logging"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// Options are what the daemon takes from its process: the command line,
// the environment, where it logs, and the parts of its surroundings that
// tests replace.
type Options struct {
	// Args are the command-line arguments after the program name: the
	// seed's flags and -config (config.Loader parses them).
	Args []string
	// Environ is the environment (os.Environ()): PCAPDAEMON_* variables.
	Environ []string
	// Stderr receives the log, the usage text (-h) and flag errors.
	Stderr io.Writer
	// Version is the release, for the log and pcapdaemon_build_info.
	Version string
	// Reload delivers a value for every reload asked for (SIGHUP); nil
	// means none.
	Reload <-chan os.Signal
	// SyslogPaths are the local syslog sockets (nil: the usual ones).
	SyslogPaths []string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// daemon is the state Run builds, step by step.
type daemon struct {
	opts  Options
	log   *slog.Logger
	level *slog.LevelVar // the log's level: [log] level, set again by a reload
	cfg   *config.Config // as loaded at start; the reloader holds the current one

	reg      *metrics.Registry
	health   *metrics.Health
	capErr   error       // why this process cannot capture, nil when it can
	stopping atomic.Bool // the shutdown has begun

	sinks   []agent.Sink
	local   *localDir
	spools  *spoolSwitch
	journal *agent.FileJournal
	index   *agent.FileIndex // finished requests; nil without a directory for it

	guard     *transport.Guard
	submit    transport.Submitter // the Guard, counted: what the sources call
	sources   []func(context.Context) error
	pubs      []agent.ResultPublisher
	reloadTLS func() error // the HTTP API's certificate, read again

	ag       *agent.Agent
	pool     *afpacket.Pool  // prepared capture sockets; nil when capErr is set
	lookback *agent.Lookback // the look-back rings
	reload   *reloader
}

// Run loads the configuration from o.Args and o.Environ and runs the agent
// with its sources and sinks until ctx is cancelled; o.Reload reloads the
// configuration (see reloader). It returns nil after a clean shutdown, and
// after -h.
func Run(ctx context.Context, o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg, notes, err := o.loadForHost()
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// Syslog is a copy of stderr, never a reason not to run: the logger
	// reaches it in the background. Its connection outlives ctx (the
	// shutdown is logged too) and ends with closeLog, the last deferred
	// call.
	// The level is read for every record: a reload sets it.
	level := new(slog.LevelVar)
	level.Set(fromconfig.LogLevel(cfg.Log))
	log, closeLog, err := logging.New(context.WithoutCancel(ctx), o.Stderr, level, fromconfig.Logging(cfg, o.SyslogPaths))
	if err != nil {
		return err
	}
	defer closeLog.Close()
	logHostNotes(log, notes)

	d := &daemon{opts: o, log: log, level: level, cfg: cfg}
	defer d.close()
	if err := d.build(ctx); err != nil {
		return err
	}
	return d.serve(ctx)
}

// build makes every part, in the order they depend on each other: the
// agent comes last, as it needs the result publishers (the sources reach
// it through the Guard's indirection).
func (d *daemon) build(ctx context.Context) error {
	d.observe()
	for _, step := range []func(context.Context) error{
		d.buildDelivery, d.buildGuard, d.addRedis, d.addSQS, d.addHTTP, d.addMetrics, d.buildLookback, d.buildAgent,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// close releases what build made that outlives the shutdown: the capture
// socket pool, the look-back rings and the index, closed after the agent's
// shutdown.
func (d *daemon) close() {
	if d.lookback != nil {
		d.lookback.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
	if d.index != nil {
		d.index.Close()
	}
}
