package daemon

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/errgroup"
)

// serve runs the sources and the reload loop until ctx ends or a source
// fails for good, then shuts down: stop taking requests (Submit answers
// ErrShuttingDown from then on), end the running captures with stop reason
// "shutdown", deliver them and publish their results, all within the
// grace period; then stop the sources.
func (d *daemon) serve(ctx context.Context) error {
	cfg := d.cfg
	d.log.Info("pcapdaemon started", "version", d.opts.Version, "node", d.ag.Hostname(), "config", cfg.File,
		"redis", cfg.Redis.Listen, "sqs", cfg.SQS.Listen, "http", cfg.HTTP.Listen, "metrics", cfg.Metrics.Listen,
		"sinks", sinkNames(d.sinks), "spool", cfg.General.SpoolDir, "capture_capable", d.capErr == nil)

	// The sources run on their own context, not ctx: the Redis and SQS
	// transports are also the result publishers, and must stay connected
	// until the agent has published the results of the captures that the
	// shutdown ends.
	srcCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSources()
	g, gctx := errgroup.WithContext(srcCtx)
	g.Go(func() error { d.reloadLoop(gctx); return nil })
	for _, run := range d.sources {
		g.Go(func() error { return run(gctx) })
	}
	select {
	case <-ctx.Done(): // SIGINT, SIGTERM
		d.log.Info("shutting down", "cause", context.Cause(ctx))
	case <-gctx.Done(): // a source failed for good
	}
	d.stopping.Store(true)
	grace := d.reload.current().General.ShutdownGraceDuration()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	start := d.opts.Now()
	serr := d.ag.Shutdown(sctx)
	if serr != nil {
		d.log.Error("shutdown", "error", serr, "grace", grace)
	}
	stopSources()
	err := errors.Join(g.Wait(), serr)
	d.log.Info("pcapdaemon stopped", "shutdown_took", d.opts.Now().Sub(start).Round(time.Millisecond))
	return err
}
