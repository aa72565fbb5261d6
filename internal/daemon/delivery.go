package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/sink/cloudshark"
	"github.com/pcapdaemon/pcapdaemon/sink/local"
	"github.com/pcapdaemon/pcapdaemon/sink/s3"
)

// buildDelivery makes where captures go: the sinks, the local directory's
// retention, the spool for the captures every sink failed, the journal of
// running requests (in the spool directory) and the index of finished ones
// (in the spool or local directory).
func (d *daemon) buildDelivery(ctx context.Context) error {
	sinks, loc, err := buildSinks(ctx, d.cfg, d.log, d.reg)
	if err != nil {
		return err
	}
	d.sinks = sinks
	d.local = newLocalDir(d.log)
	d.local.cur.Store(loc)
	d.reg.WatchLocal(d.local.state)
	d.sources = append(d.sources, d.local.Run)
	d.spools = newSpoolSwitch(d.log, d.reg.SpoolDropped)
	sp, err := d.spools.prepare(d.cfg.General, sinks)
	if err != nil {
		return err
	}
	d.spools.set(sp)
	d.reg.WatchSpool(d.spools.state)
	d.health.AddCheck("delivery", func() error { return d.spools.canTakeCapture(d.reg.SinkFailing) })
	d.sources = append(d.sources, d.spools.Run)
	if d.journal, err = openJournal(d.cfg.General.SpoolDir, d.log); err != nil {
		return err
	}
	d.index, err = openIndex(d.cfg.General, d.log)
	return err
}

// buildSinks returns the configured destinations, each measured by reg,
// and the local one among them (nil without).
func buildSinks(ctx context.Context, cfg *config.Config, log *slog.Logger, reg *metrics.Registry) ([]agent.Sink, *local.Sink, error) {
	var sinks []agent.Sink
	var loc *local.Sink
	if cfg.General.WriteLocal {
		s, err := local.New(cfg.General.LocalDir, log, local.WithRetention(fromconfig.LocalRetention(cfg.General)),
			local.OnRemoved(func(rm local.Removal) { reg.LocalRemoved(rm.Reason, rm.Size) }))
		if err != nil {
			return nil, nil, err
		}
		sinks, loc = append(sinks, s), s
	}
	if cfg.S3.Upload {
		s, err := s3.New(ctx, fromconfig.S3(cfg.S3), log)
		if err != nil {
			return nil, nil, err
		}
		sinks = append(sinks, s)
	}
	if cfg.Cloudshark.Upload {
		s, err := cloudshark.New(fromconfig.Cloudshark(cfg.Cloudshark), log)
		if err != nil {
			return nil, nil, err
		}
		sinks = append(sinks, s)
	}
	if len(sinks) == 0 {
		return nil, nil, fmt.Errorf("no sink enabled: set [general] writelocal, [s3] upload or [cloudshark] upload")
	}
	for i, s := range sinks {
		sinks[i] = reg.InstrumentSink(s)
	}
	return sinks, loc, nil
}

func sinkNames(sinks []agent.Sink) []string {
	names := make([]string, len(sinks))
	for i, s := range sinks {
		names[i] = s.Name()
	}
	return names
}
