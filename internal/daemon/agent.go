package daemon

import (
	"context"
	"fmt"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
)

// buildAgent makes the agent with the sinks, spool, journal, index and
// result publishers built before, loads the requests earlier processes
// finished (from the index), reports the ones the previous process left
// running (from the journal), and makes the reloader that changes it
// later.
func (d *daemon) buildAgent(ctx context.Context) error {
	opener, err := d.opener(ctx)
	if err != nil {
		return err
	}
	opts := []agent.Option{
		agent.WithLogger(d.log), agent.WithSinks(d.sinks...), agent.WithPublishers(d.pubs...),
		agent.WithSpool(d.reg.InstrumentSink(d.spools)),
		agent.WithOpener(opener), agent.WithLookback(d.lookback),
	}
	if d.journal != nil {
		opts = append(opts, agent.WithJournal(d.journal))
	}
	if d.index != nil {
		opts = append(opts, agent.WithIndex(d.index))
	}
	ag, err := agent.New(fromconfig.Agent(d.cfg), opts...)
	if err != nil {
		return err
	}
	d.ag = ag
	d.spools.reportTo(ag.Redelivered)
	if n, err := ag.LoadIndex(); err != nil {
		d.log.Error("the requests of earlier processes cannot be read from the index", "error", err)
	} else if n > 0 {
		d.log.Info("requests of earlier processes loaded from the index", "requests", n, "path", d.index.Path())
	}
	if n, err := ag.RecoverJournal(); err != nil {
		d.log.Error("the captures interrupted by the previous process cannot be reported", "error", err)
	} else if n > 0 {
		d.log.Warn("requests interrupted by the end of the previous process reported with status error, stop_reason restart", "requests", n)
	}
	if err := d.reg.WatchAgent(ag); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	d.reload = &reloader{load: d.load, log: d.log, level: d.level, reg: d.reg, ag: ag, spools: d.spools, local: d.local, cur: d.cfg,
		lookback: d.lookback}
	return nil
}

// opener returns how the agent opens capture sockets: from one pool of
// prepared sockets with the configured ring geometry (issue 5: arming a
// socket otherwise waits for the ring setup's RCU grace period), with a
// permission error explained (captureOpener). The pool holds one spare
// ring, RingSize bytes of kernel memory beyond the captures' budget; it is
// closed after the agent's shutdown (close). A process that cannot capture
// has no pool.
func (d *daemon) opener(ctx context.Context) (agent.Opener, error) {
	open := agent.OpenAFPacket
	if d.capErr == nil {
		pool, err := afpacket.NewPool(context.WithoutCancel(ctx), 1, agent.RingConfig(fromconfig.Agent(d.cfg)))
		if err != nil {
			return nil, fmt.Errorf("capture socket pool: %w", err)
		}
		d.pool = pool
		open = agent.PoolOpener(pool)
	}
	return captureOpener(d.capErr, open), nil
}
