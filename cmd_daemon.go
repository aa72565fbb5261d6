package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"golang.org/x/sync/errgroup"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/logging"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/sink/cloudshark"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
	"github.com/pcapdaemon/pcapdaemon/sink/s3"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
	"github.com/pcapdaemon/pcapdaemon/transport/sqs"
)

// runDaemon loads the configuration from args and the environment and runs
// the agent with its sources and sinks until ctx is cancelled. SIGHUP
// reloads the configuration (see reloader).
//
// The wiring, in the order a request travels:
//
//	source (redis, sqs, http) → metrics.CountRequests → transport.Guard → agent
//	agent → sinks (each measured) → spool when all failed → result publishers
func runDaemon(ctx context.Context, args []string, stderr io.Writer, opts ...daemonOption) error {
	var o daemonOptions
	for _, opt := range opts {
		opt(&o)
	}
	// SIGHUP is caught first: its default action would end the process,
	// and an operator's reload must never do that.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The configuration is checked against this host (directories,
	// files, interfaces) at start and on every reload; pcapdaemon check
	// runs the same as a dry run.
	loadForHost := func() (*config.Config, []config.HostNote, error) {
		return config.Loader{Args: args, Environ: os.Environ(), Output: stderr}.LoadForHost(config.HostOptions{})
	}
	cfg, notes, err := loadForHost()
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
	log, closeLog, err := logging.New(context.WithoutCancel(ctx), stderr, slog.LevelInfo, syslogOptions(cfg.Syslog, o.syslogPaths))
	if err != nil {
		return err
	}
	defer closeLog.Close()
	logHostNotes(log, notes)
	load := func() (*config.Config, error) {
		c, notes, err := loadForHost()
		logHostNotes(log, notes)
		return c, err
	}

	reg := metrics.New(version, log)
	health := &metrics.Health{}
	capErr := checkCapture(log, reg, health)
	// Not ready once the shutdown has begun: a load balancer in front of
	// the HTTP API stops sending requests that would be refused.
	var stopping atomic.Bool
	health.AddCheck("shutdown", func() error {
		if stopping.Load() {
			return errors.New("shutting down")
		}
		return nil
	})

	sinks, err := buildSinks(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	spools := newSpoolSwitch(log, reg.SpoolDropped)
	sp, err := spools.prepare(cfg.General, sinks)
	if err != nil {
		return err
	}
	spools.set(sp)
	reg.WatchSpool(spools.state)
	health.AddCheck("delivery", func() error { return spools.canTakeCapture(reg.SinkFailing) })
	journal, err := openJournal(cfg.General.SpoolDir, log)
	if err != nil {
		return err
	}
	sources := []func(context.Context) error{spools.Run}
	var pubs []agent.ResultPublisher

	// The agent is created last (it needs the publishers); sources reach it
	// through this indirection.
	var ag *agent.Agent
	guard := transport.NewGuard(fromconfig.Guard(cfg), transport.SubmitterFunc(
		func(ctx context.Context, msg []byte, source string) (string, error) {
			return ag.Submit(ctx, msg, source)
		}))
	reg.WatchGuard(guard.Rejected)
	submit := reg.CountRequests(guard)

	if cfg.Redis.Listen {
		o, err := fromconfig.Redis(cfg.Redis)
		if err != nil {
			return err
		}
		// Oversized messages are dropped as they arrive, before the Guard
		// sees them; a dropped request is answered in the agent's name.
		o.MaxMessage = cfg.General.MaxMessage
		o.Node = func() string {
			if ag == nil { // set before the sources run
				return ""
			}
			return ag.Hostname()
		}
		rt, err := redis.New(o, submit, log)
		if err != nil {
			return err
		}
		pubs = append(pubs, rt)
		sources = append(sources, rt.Run)
		reg.WatchSource(redis.Source, func() metrics.SourceState {
			s := rt.State()
			return metrics.SourceState{Up: s == redis.StateUp, State: s}
		})
		reg.WatchDropped(redis.Source, rt.Dropped)
		health.AddCheck(redis.Source, func() error {
			if s := rt.State(); s != redis.StateUp {
				return fmt.Errorf("not subscribed to %q on %v: %s", o.Channel, o.Addrs, s)
			}
			return nil
		})
	}

	if cfg.SQS.Listen {
		c := cfg.SQS
		// The probe sees every call the SDK makes to the queue, so that
		// readiness and source_up follow the queue's reachability; under it
		// is the transport the SDK would have used anyway.
		probe := metrics.NewProbe(awshttp.NewBuildableClient().GetTransport())
		q, err := sqs.New(ctx, sqs.Config{
			QueueURL: c.URL, Region: c.Region, Endpoint: c.Endpoint, Protocol: c.Protocol,
			AccessID: c.AccessID, AccessKey: c.AccessKey, WaitSeconds: c.WaitSeconds,
			ChunkSize: c.ChunkSize, Shared: c.Shared, ResultsURL: c.ResultsURL,
			HTTPClient: &http.Client{Transport: probe},
		}, submit, log)
		if err != nil {
			return err
		}
		pubs = append(pubs, q)
		sources = append(sources, q.Run)
		reg.WatchRefused(sqs.Source, q.Refused)
		reg.WatchSource(sqs.Source, func() metrics.SourceState {
			s, err := probe.State()
			return metrics.SourceState{Up: err == nil, State: s}
		})
		health.AddCheck(sqs.Source, func() error {
			if _, err := probe.State(); err != nil {
				return fmt.Errorf("queue %s: %w", c.URL, err)
			}
			return nil
		})
	}

	reloadTLS := func() error { return nil }
	if cfg.HTTP.Listen != "" {
		backend := httpapi.Adapt(
			func(id string) (agent.RequestState, bool) { return ag.Lookup(id) },
			func(id string) error { return ag.Cancel(id) })
		hs, err := httpapi.New(fromconfig.HTTP(cfg), submit, backend, log)
		if err != nil {
			return err
		}
		// Outside /v1/ and so not behind the token: see package metrics.
		hs.Handle("GET /metrics", reg.Handler())
		hs.Handle("GET /healthz", health.Healthz())
		hs.Handle("GET /readyz", health.Readyz())
		// Bind now so that a taken port fails the start, not a goroutine.
		addr, err := hs.Listen()
		if err != nil {
			return err
		}
		sources = append(sources, hs.Serve)
		reloadTLS = hs.ReloadTLS
		reg.WatchSource(httpapi.Source, func() metrics.SourceState {
			return metrics.SourceState{Up: true, State: "serving"}
		})
		health.AddCheck(httpapi.Source, func() error { return nil }) // it answers this very check
		log.Debug("metrics and health checks served", "addr", addr)
	}

	// One pool of prepared capture sockets with the configured ring
	// geometry (issue 5: arming a socket otherwise waits for the ring
	// setup's RCU grace period). It holds one spare ring, RingSize bytes
	// of kernel memory beyond the captures' budget; closed after the
	// agent's shutdown, as the last deferred call.
	opener := agent.OpenAFPacket
	if capErr == nil {
		pool, err := afpacket.NewPool(context.WithoutCancel(ctx), 1, agent.RingConfig(agentConfig(cfg)))
		if err != nil {
			return fmt.Errorf("capture socket pool: %w", err)
		}
		defer pool.Close()
		opener = agent.PoolOpener(pool)
	}
	agentOpts := []agent.Option{
		agent.WithLogger(log), agent.WithSinks(sinks...), agent.WithPublishers(pubs...),
		agent.WithSpool(reg.InstrumentSink(spools)),
		agent.WithOpener(captureOpener(capErr, opener)),
	}
	if journal != nil {
		agentOpts = append(agentOpts, agent.WithJournal(journal))
	}
	ag, err = agent.New(agentConfig(cfg), agentOpts...)
	if err != nil {
		return err
	}
	spools.reportTo(ag.Redelivered)
	if n, err := ag.RecoverJournal(); err != nil {
		log.Error("the captures interrupted by the previous process cannot be reported", "error", err)
	} else if n > 0 {
		log.Warn("requests interrupted by the end of the previous process reported with status error, stop_reason restart", "requests", n)
	}
	if err := reg.WatchAgent(ag); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	rl := &reloader{load: load, log: log, reg: reg, ag: ag, spools: spools, cur: cfg}
	log.Info("pcapdaemon started", "version", version, "node", ag.Hostname(), "config", cfg.File,
		"redis", cfg.Redis.Listen, "sqs", cfg.SQS.Listen, "http", cfg.HTTP.Listen,
		"sinks", sinkNames(sinks), "spool", cfg.General.SpoolDir, "capture_capable", capErr == nil)

	// The sources run on their own context, not ctx: the Redis and SQS
	// transports are also the result publishers, and must stay connected
	// until the agent has published the results of the captures that the
	// shutdown ends.
	srcCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSources()
	g, gctx := errgroup.WithContext(srcCtx)
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
				rl.reload(gctx)
				// The API's certificate files are read again (renewed
				// certificates); the other [http] settings need a restart.
				if err := reloadTLS(); err != nil {
					log.Error("HTTP API certificate reload failed; the certificate in use is kept", "error", err)
				}
			}
		}
	})
	for _, run := range sources {
		g.Go(func() error { return run(gctx) })
	}
	select {
	case <-ctx.Done(): // SIGINT, SIGTERM
		log.Info("shutting down", "cause", context.Cause(ctx))
	case <-gctx.Done(): // a source failed for good
	}
	// Stop taking requests (Submit answers ErrShuttingDown from now on),
	// end running captures with stop reason "shutdown", deliver them and
	// publish their results, all within the grace period; then stop the
	// sources.
	stopping.Store(true)
	grace := rl.current().General.ShutdownGraceDuration()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	start := time.Now()
	serr := ag.Shutdown(sctx)
	if serr != nil {
		log.Error("shutdown", "error", serr, "grace", grace)
	}
	stopSources()
	err = errors.Join(g.Wait(), serr)
	log.Info("pcapdaemon stopped", "shutdown_took", time.Since(start).Round(time.Millisecond))
	return err
}

// buildSinks returns the configured destinations, each measured by reg.
func buildSinks(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *metrics.Registry) ([]agent.Sink, error) {
	var sinks []agent.Sink
	if cfg.General.WriteLocal {
		s, err := local.New(cfg.General.LocalDir, log)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if c := cfg.S3; c.Upload {
		s, err := s3.New(ctx, s3.Config{
			Bucket: c.Bucket, Folder: c.Folder, ACL: c.ACL, Region: c.Region, Endpoint: c.Endpoint,
			PathStyle: c.PathStyle, Encryption: c.Encryption, KMSKeyID: c.KMSKeyID,
			AccessID: c.AccessID, AccessKey: c.AccessKey,
			AllowBuckets: c.AllowBuckets, AllowEndpoints: c.AllowEndpoints,
			AllowACLs: c.AllowACLs, AllowFolders: c.AllowFolders,
		}, log)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if c := cfg.Cloudshark; c.Upload {
		s, err := cloudshark.New(cloudshark.Config{
			Host: c.Host, Scheme: c.Scheme, Port: c.Port, Token: c.Token,
			Timeout: c.TimeoutDuration(), Insecure: c.Insecure,
		}, log)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if len(sinks) == 0 {
		return nil, fmt.Errorf("no sink enabled: set [general] writelocal, [s3] upload or [cloudshark] upload")
	}
	for i, s := range sinks {
		sinks[i] = reg.InstrumentSink(s)
	}
	return sinks, nil
}

func sinkNames(sinks []agent.Sink) []string {
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name()
	}
	return names
}

// agentConfig maps the daemon's configuration onto the agent's.
func agentConfig(cfg *config.Config) agent.Config {
	g := cfg.General
	return agent.Config{
		Hostname:       g.Hostname,
		MaxPackets:     g.MaxPackets,
		MaxBytes:       g.MaxBytes,
		MaxTimeout:     g.MaxTimeoutDuration(),
		MaxDuration:    g.MaxDurationDuration(),
		DefaultTimeout: g.DefaultTimeoutDuration(),
		Snaplen:        g.SnapLength,
		MaxSnaplen:     g.MaxSnapLength,
		PacketDebug:    g.PacketDebug,
		Format:         g.Format,
		Aliases:        cfg.Aliases(),
		Promiscuous:    g.Promiscuous,
		MaxConcurrent:  g.MaxConcurrent,
		MaxMemory:      g.MaxMemory,
		ShutdownGrace:  g.ShutdownGraceDuration(),
		RingBytes:      g.RingSize,
		BlockTimeout:   time.Duration(g.BlockTimeout) * time.Millisecond,
		NoFilterNames:  !g.FilterNames,
	}
}

// daemonOptions are the parts of the daemon's environment that tests
// replace.
type daemonOptions struct {
	// syslogPaths are the local syslog sockets (nil: the usual ones).
	syslogPaths []string
}

// daemonOption sets one of daemonOptions.
type daemonOption func(*daemonOptions)

// withSyslogPaths makes the daemon look for the local syslog at paths.
func withSyslogPaths(paths ...string) daemonOption {
	return func(o *daemonOptions) { o.syslogPaths = paths }
}

// syslogOptions maps [syslog] onto the logger's options.
func syslogOptions(s config.Syslog, localPaths []string) logging.Options {
	return logging.Options{
		Priority: s.Priority, Tag: s.Tag, Network: s.Network, Address: s.Address,
		LocalPaths: localPaths,
	}
}

// logHostNotes logs what the host check did (the default local directory
// created).
func logHostNotes(log *slog.Logger, notes []config.HostNote) {
	for _, n := range notes {
		log.Info("configuration: "+n.Text, "key", n.Key, "value", n.Value)
	}
}
