package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// MetricsOptions configures a MetricsServer.
type MetricsOptions struct {
	// Listen is the host:port to bind; any address, loopback or not.
	Listen string
	// MaxConns caps the connections open at once, as Options.MaxConns
	// does for the API (default DefaultMaxConns).
	MaxConns int
	// ShutdownTimeout bounds the graceful shutdown (default 10s).
	ShutdownTimeout time.Duration
}

// MetricsServer serves the routes given to Handle (the daemon gives it
// /metrics, /healthz and /readyz) on a listener of their own, so that
// Prometheus can scrape a node by its address while the capture API stays
// on loopback. It has the API's connection cap and timeouts, but neither
// its token (a scraper and a probe should not hold the secret that starts
// captures) nor its Host check (a scraper names the node by its address,
// which is no loopback name, and nothing served here changes state or
// tells of a capture, which is what the check protects). It speaks plain
// HTTP. Any other path is answered 404.
type MetricsServer struct {
	o   MetricsOptions
	log *slog.Logger
	mux *http.ServeMux
	srv *http.Server

	mu sync.Mutex
	ln *connLimiter
}

// NewMetrics returns a MetricsServer; it binds nothing until Listen or
// Serve.
func NewMetrics(o MetricsOptions, log *slog.Logger) (*MetricsServer, error) {
	if o.Listen == "" {
		return nil, errors.New("httpapi: metrics: no listen address")
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return nil, fmt.Errorf("httpapi: metrics listen %q: %w", o.Listen, err)
	}
	if o.MaxConns < 0 {
		return nil, fmt.Errorf("httpapi: metrics: maxconns %d: must not be negative", o.MaxConns)
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &MetricsServer{o: o, log: log.With("listener", "metrics"), mux: http.NewServeMux()}
	m.srv = newHTTPServer(m.mux, m.log)
	return m, nil
}

// Handle adds a route. Call it before Serve.
func (m *MetricsServer) Handle(pattern string, h http.Handler) { m.mux.Handle(pattern, h) }

// Listen binds the listener (Serve does it if not done) and returns its
// address.
func (m *MetricsServer) Listen() (net.Addr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		ln, err := listenLimited(m.o.Listen, m.o.MaxConns)
		if err != nil {
			return nil, err
		}
		m.ln = ln
	}
	return m.ln.Addr(), nil
}

// Serve serves until ctx ends, then shuts down gracefully, as
// Server.Serve does.
func (m *MetricsServer) Serve(ctx context.Context) error {
	addr, err := m.Listen()
	if err != nil {
		return err
	}
	m.log.Info("httpapi: serving metrics and health checks", "addr", addr.String(), "maxconns", m.o.MaxConns)
	return serveGracefully(ctx, m.srv, addr, m.o.ShutdownTimeout, func() error { return m.srv.Serve(m.ln) })
}
