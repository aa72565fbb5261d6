package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// What the API's listener and the metrics listener share: the server's
// timeouts, the connection cap and the graceful shutdown.

// newHTTPServer returns an http.Server for h with the timeouts every
// listener of the package has.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:     trackConns(h),
		ConnContext: connContext,
		// A client that is slow to send its headers (or to finish the
		// TLS handshake, bounded by the same timeout) holds one of the
		// MaxConns slots for at most ReadHeaderTimeout.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listenLimited binds addr behind a connLimiter of maxConns.
func listenLimited(addr string, maxConns int) (*connLimiter, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("httpapi: listen on %s: %w", addr, err)
	}
	return newConnLimiter(ln, maxConns), nil
}

// serveGracefully runs serve (srv.Serve or srv.ServeTLS on its listener)
// until ctx ends, then shuts srv down: it stops accepting, lets requests
// in flight finish for up to timeout (measured from a fresh context, not
// the ended one), then closes what is left. It returns nil after a clean
// shutdown.
func serveGracefully(ctx context.Context, srv *http.Server, addr net.Addr, timeout time.Duration, serve func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return fmt.Errorf("httpapi: serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		srv.Close()
		return fmt.Errorf("httpapi: shutdown on %s: %w", addr, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("httpapi: serve on %s: %w", addr, err)
	}
	return nil
}
