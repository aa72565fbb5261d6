package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/logging"
	"github.com/pcapdaemon/pcapdaemon/sink/cloudshark"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
	"github.com/pcapdaemon/pcapdaemon/sink/s3"
	"github.com/pcapdaemon/pcapdaemon/sink/spool"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
	"github.com/pcapdaemon/pcapdaemon/transport/sqs"
)

// runDaemon loads the configuration from args and the environment and runs
// the agent with its sources and sinks until ctx is cancelled.
func runDaemon(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := config.Loader{Args: args, Environ: os.Environ(), Output: stderr}.Load()
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, closeLog, err := logging.New(stderr, slog.LevelInfo, cfg.Syslog)
	if err != nil {
		return err
	}
	defer closeLog.Close()

	sinks, err := buildSinks(ctx, cfg, log)
	if err != nil {
		return err
	}
	var pubs []agent.ResultPublisher
	var sources []func(context.Context) error
	agentOpts := []agent.Option{agent.WithLogger(log), agent.WithSinks(sinks...)}
	if cfg.General.SpoolDir != "" {
		sp, err := spool.New(spool.Config{Dir: cfg.General.SpoolDir}, sinks, log)
		if err != nil {
			return err
		}
		agentOpts = append(agentOpts, agent.WithSpool(sp.Keeper()))
		sources = append(sources, sp.Run)
	}

	guard := transport.GuardOptionsFromConfig(cfg)
	// The agent is created last (it needs the publishers); sources reach it
	// through this indirection.
	var ag *agent.Agent
	submit := transport.NewGuard(guard, transport.SubmitterFunc(func(ctx context.Context, msg []byte, source string) (string, error) {
		return ag.Submit(ctx, msg, source)
	}))

	if cfg.Redis.Listen {
		o, err := redis.OptionsFromConfig(cfg.Redis)
		if err != nil {
			return err
		}
		rt, err := redis.New(o, submit, log)
		if err != nil {
			return err
		}
		pubs = append(pubs, rt)
		sources = append(sources, rt.Run)
	}

	if cfg.SQS.Listen {
		c := cfg.SQS
		q, err := sqs.New(ctx, sqs.Config{
			QueueURL: c.URL, Region: c.Region, Endpoint: c.Endpoint, Protocol: c.Protocol,
			AccessID: c.AccessID, AccessKey: c.AccessKey, WaitSeconds: c.WaitSeconds,
			ChunkSize: c.ChunkSize, Shared: c.Shared, ResultsURL: c.ResultsURL,
		}, submit, log)
		if err != nil {
			return err
		}
		pubs = append(pubs, q)
		sources = append(sources, q.Run)
	}

	if cfg.HTTP.Listen != "" {
		backend := httpapi.Adapt(
			func(id string) (agent.RequestState, bool) { return ag.Lookup(id) },
			func(id string) error { return ag.Cancel(id) })
		hs, err := httpapi.New(httpapi.OptionsFromConfig(cfg), submit, backend, log)
		if err != nil {
			return err
		}
		// Bind now so that a taken port fails the start, not a goroutine.
		if _, err := hs.Listen(); err != nil {
			return err
		}
		sources = append(sources, hs.Serve)
	}

	agentOpts = append(agentOpts, agent.WithPublishers(pubs...))
	ag, err = agent.New(agentConfig(cfg), agentOpts...)
	if err != nil {
		return err
	}
	log.Info("pcapdaemon started", "node", ag.Hostname(), "config", cfg.File,
		"redis", cfg.Redis.Listen, "sqs", cfg.SQS.Listen, "http", cfg.HTTP.Listen)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { <-gctx.Done(); return nil }) // run until a signal even with no source
	for _, run := range sources {
		g.Go(func() error { return run(gctx) })
	}
	err = g.Wait()
	// Sources have stopped taking requests; let running captures end with
	// stop reason "shutdown", deliver and publish within the grace period.
	grace, cancel := context.WithTimeout(context.Background(), cfg.General.ShutdownGraceDuration())
	defer cancel()
	if serr := ag.Shutdown(grace); serr != nil {
		log.Error("shutdown", "error", serr)
		err = errors.Join(err, serr)
	}
	log.Info("pcapdaemon stopped")
	return err
}

// buildSinks returns the configured destinations.
func buildSinks(ctx context.Context, cfg *config.Config, log *slog.Logger) ([]agent.Sink, error) {
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
	return sinks, nil
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
		ShutdownGrace:  time.Duration(g.ShutdownGrace) * time.Second,
	}
}
