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

// buildDelivery makes where captures go: the sinks, the spool for the
// captures every sink failed, and the journal of running requests (in the
// spool directory).
func (d *daemon) buildDelivery(ctx context.Context) error {
	sinks, err := buildSinks(ctx, d.cfg, d.log, d.reg)
	if err != nil {
		return err
	}
	d.sinks = sinks
	d.spools = newSpoolSwitch(d.log, d.reg.SpoolDropped)
	sp, err := d.spools.prepare(d.cfg.General, sinks)
	if err != nil {
		return err
	}
	d.spools.set(sp)
	d.reg.WatchSpool(d.spools.state)
	d.health.AddCheck("delivery", func() error { return d.spools.canTakeCapture(d.reg.SinkFailing) })
	d.sources = append(d.sources, d.spools.Run)
	d.journal, err = openJournal(d.cfg.General.SpoolDir, d.log)
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
	if cfg.S3.Upload {
		s, err := s3.New(ctx, fromconfig.S3(cfg.S3), log)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if cfg.Cloudshark.Upload {
		s, err := cloudshark.New(fromconfig.Cloudshark(cfg.Cloudshark), log)
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
