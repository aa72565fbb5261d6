package daemon

import (
	"context"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/transport"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
	"github.com/pcapdaemon/pcapdaemon/transport/sqs"
)

// buildGuard makes what every source submits to: the Guard ([security],
// general.maxmessage) in front of the agent, counted by the metrics. The
// agent is made last (it needs the sources' result publishers); the
// sources reach it through this indirection, and run only once it exists.
func (d *daemon) buildGuard(context.Context) error {
	d.guard = transport.NewGuard(fromconfig.Guard(d.cfg), transport.SubmitterFunc(
		func(ctx context.Context, msg []byte, source string) (string, error) {
			return d.ag.Submit(ctx, msg, source)
		}))
	d.reg.WatchGuard(d.guard.Rejected)
	d.submit = d.reg.CountRequests(d.guard)
	return nil
}

// addRedis subscribes to the Redis request channel, with [redis] listen.
func (d *daemon) addRedis(context.Context) error {
	if !d.cfg.Redis.Listen {
		return nil
	}
	o, err := fromconfig.Redis(d.cfg.Redis)
	if err != nil {
		return err
	}
	// Oversized messages are dropped as they arrive, before the Guard
	// sees them; a dropped request is answered in the agent's name.
	o.MaxMessage = d.cfg.General.MaxMessage
	o.Node = func() string {
		if d.ag == nil { // set before the sources run
			return ""
		}
		return d.ag.Hostname()
	}
	// The agent's presence record, for "pcapdaemon nodes" and "request
	// -wait"; the sources run once the agent exists.
	o.Presence = func() agent.NodeInfo {
		n := d.ag.Node()
		n.Version = d.opts.Version
		return n
	}
	rt, err := redis.New(o, d.submit, d.log)
	if err != nil {
		return err
	}
	d.pubs = append(d.pubs, rt)
	d.sources = append(d.sources, rt.Run)
	d.reg.WatchSource(redis.Source, func() metrics.SourceState {
		s := rt.State()
		return metrics.SourceState{Up: s == redis.StateUp, State: s}
	})
	d.reg.WatchDropped(redis.Source, rt.Dropped)
	d.health.AddCheck(redis.Source, func() error {
		if s := rt.State(); s != redis.StateUp {
			return fmt.Errorf("not subscribed to %q on %v: %s", o.Channel, o.Addrs, s)
		}
		return nil
	})
	return nil
}

// addSQS polls the SQS request queue, with [sqs] listen.
func (d *daemon) addSQS(ctx context.Context) error {
	if !d.cfg.SQS.Listen {
		return nil
	}
	// The probe sees every call the SDK makes to the queue, so that
	// readiness and source_up follow the queue's reachability; under it
	// is the transport the SDK would have used anyway.
	probe := metrics.NewProbe(awshttp.NewBuildableClient().GetTransport())
	q, err := sqs.New(ctx, fromconfig.SQS(d.cfg.SQS, &http.Client{Transport: probe}), d.submit, d.log)
	if err != nil {
		return err
	}
	url := d.cfg.SQS.URL
	d.pubs = append(d.pubs, q)
	d.sources = append(d.sources, q.Run)
	d.reg.WatchRefused(sqs.Source, q.Refused)
	d.reg.WatchSource(sqs.Source, func() metrics.SourceState {
		s, err := probe.State()
		return metrics.SourceState{Up: err == nil, State: s}
	})
	d.health.AddCheck(sqs.Source, func() error {
		if _, err := probe.State(); err != nil {
			return fmt.Errorf("queue %s: %w", url, err)
		}
		return nil
	})
	return nil
}

// addHTTP serves the HTTP API with [http] listen, its status page, and
// /metrics and the
// health checks on the same listener unless [metrics] listen gives them
// their own. It binds at once, so that a taken port fails the start, not a
// goroutine.
func (d *daemon) addHTTP(context.Context) error {
	d.reloadTLS = func() error { return nil }
	if d.cfg.HTTP.Listen == "" {
		return nil
	}
	backend := apiBackend{ag: func() requests { return d.ag }, local: d.local}
	hs, err := httpapi.New(fromconfig.HTTP(d.cfg), d.submit, backend, d.log)
	if err != nil {
		return err
	}
	if d.cfg.Metrics.Listen == "" {
		// Outside /v1/ and so not behind the token: see package metrics.
		d.observeOn(hs)
	}
	hs.ServeStatus(statusSource{d: d, started: d.opts.Now()})
	addr, err := hs.Listen()
	if err != nil {
		return err
	}
	d.sources = append(d.sources, hs.Serve)
	d.reloadTLS = hs.ReloadTLS
	d.reg.WatchSource(httpapi.Source, func() metrics.SourceState {
		return metrics.SourceState{Up: true, State: "serving"}
	})
	d.health.AddCheck(httpapi.Source, func() error { return nil }) // it answers this very check
	if d.cfg.Metrics.Listen == "" {
		d.log.Debug("metrics and health checks served", "addr", addr.String())
	}
	return nil
}
