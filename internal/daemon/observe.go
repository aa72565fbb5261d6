package daemon

import (
	"context"
	"errors"
	"net/http"

	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/metrics"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
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

// observeOn adds /metrics, /healthz and /readyz to a server's routes.
func (d *daemon) observeOn(s interface {
	Handle(pattern string, h http.Handler)
}) {
	s.Handle("GET /metrics", d.reg.Handler())
	s.Handle("GET /healthz", d.health.Healthz())
	s.Handle("GET /readyz", d.health.Readyz())
}

// addMetrics serves /metrics and the health checks on a listener of their
// own, with [metrics] listen; the API's listener then serves only the API.
// It binds at once, so that a taken port fails the start.
func (d *daemon) addMetrics(context.Context) error {
	if d.cfg.Metrics.Listen == "" {
		return nil
	}
	ms, err := httpapi.NewMetrics(fromconfig.Metrics(d.cfg), d.log)
	if err != nil {
		return err
	}
	d.observeOn(ms)
	if _, err := ms.Listen(); err != nil {
		return err
	}
	d.sources = append(d.sources, ms.Serve)
	return nil
}
