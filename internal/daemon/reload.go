package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/metrics"
)

// reloadLoop reloads the configuration for every value on the Reload
// channel (SIGHUP) until ctx ends.
func (d *daemon) reloadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.opts.Reload:
			d.reload.reload(ctx)
			// The API's certificate files are read again (renewed
			// certificates); the other [http] settings need a restart.
			if err := d.reloadTLS(); err != nil {
				d.log.Error("HTTP API certificate reload failed; the certificate in use is kept", "error", err)
			}
		}
	}
}

// reloader applies a new configuration on SIGHUP: the capture limits,
// aliases, host name and formats (agent.Reload), the sinks (the local
// one's retention too), the spool and the log level.
// Running captures keep what they started with and are not interrupted.
// Everything is built before anything is replaced, so a reload that fails
// (a syntax error, an unknown interface, an unwritable directory) changes
// nothing: it is logged and counted, and the running configuration stays.
//
// The request sources (Redis, SQS, the HTTP listener and its token), the
// Guard ([security] and general.maxmessage), the metrics listener, the
// log format and syslog are built once at start; a reload that changes them says so in a warning and they change
// at the next restart.
type reloader struct {
	load   func() (*config.Config, error)
	log    *slog.Logger
	level  *slog.LevelVar // nil: the level is not reloaded (tests)
	reg    *metrics.Registry
	ag     *agent.Agent
	spools *spoolSwitch
	local  *localDir
	// lookback are the look-back rings (nil in tests without them).
	lookback *agent.Lookback

	mu  sync.Mutex
	cur *config.Config
}

// current returns the configuration in force.
func (r *reloader) current() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// reload reloads the configuration, logging the outcome, and returns the
// error that made it fail.
func (r *reloader) reload(ctx context.Context) error {
	r.log.Info("SIGHUP: reloading the configuration")
	err := r.apply(ctx)
	r.reg.Reloaded(err)
	if err != nil {
		r.log.Error("configuration reload failed; the running configuration is kept", "error", err)
	}
	return err
}

func (r *reloader) apply(ctx context.Context) error {
	cfg, err := r.load()
	if err != nil {
		return err
	}
	sinks, loc, err := buildSinks(ctx, cfg, r.log, r.reg)
	if err != nil {
		return err
	}
	sp, err := r.spools.prepare(cfg.General, sinks)
	if err != nil {
		return err
	}
	if err := applyLookback(r.lookback, cfg); err != nil {
		return err
	}
	if err := r.ag.Reload(fromconfig.Agent(cfg), sinks); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	r.spools.set(sp)
	r.local.set(loc)

	r.mu.Lock()
	old := r.cur
	r.cur = cfg
	r.mu.Unlock()

	g := cfg.General
	r.log.Info("configuration reloaded", "config", cfg.File, "node", r.ag.Hostname(),
		"aliases", cfg.Aliases(), "sinks", sinkNames(sinks), "spool", g.SpoolDir,
		"maxconcurrent", g.MaxConcurrent, "maxmemory", g.MaxMemory, "maxpackets", g.MaxPackets,
		"maxbytes", g.MaxBytes, "maxduration", g.MaxDuration, "log_level", cfg.Log.Level)
	// After the line above, so that a reload to "error" still says it
	// happened.
	if r.level != nil {
		r.level.Set(fromconfig.LogLevel(cfg.Log))
	}
	if fixed := restartOnly(old, cfg); len(fixed) > 0 {
		r.log.Warn("configuration changes that take effect only after a restart", "changed", fixed)
	}
	return nil
}

// restartOnly lists the parts that differ between old and cfg and that a
// reload does not apply.
func restartOnly(old, cfg *config.Config) []string {
	var changed []string
	for _, p := range []struct {
		name     string
		old, new any
	}{
		{"[redis]", old.Redis, cfg.Redis},
		{"[sqs]", old.SQS, cfg.SQS},
		{"[http]", old.HTTP, cfg.HTTP},
		{"[security]", old.Security, cfg.Security},
		{"[syslog]", old.Syslog, cfg.Syslog},
		{"[metrics]", old.Metrics, cfg.Metrics},
		{"log.format", old.Log.Format, cfg.Log.Format},
		{"general.maxmessage", old.General.MaxMessage, cfg.General.MaxMessage},
	} {
		if !reflect.DeepEqual(p.old, p.new) {
			changed = append(changed, p.name)
		}
	}
	return changed
}
