package daemon

import (
	"errors"

	"github.com/pcapdaemon/pcapdaemon/metrics"
)

// observe makes the metrics registry and the health checks, and finds out
// whether this process may capture (checkCapture).
func (d *daemon) observe() {
	d.reg = metrics.New(d.opts.Version, d.log)
	d.health = &metrics.Health{}
	d.capErr = checkCapture(d.log, d.reg, d.health)
	// Not ready once the shutdown has begun: a load balancer in front of
	// the HTTP API stops sending requests that would be refused.
	d.health.AddCheck("shutdown", func() error {
		if d.stopping.Load() {
			return errors.New("shutting down")
		}
		return nil
	})
}
