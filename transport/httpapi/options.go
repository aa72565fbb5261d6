package httpapi

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// DefaultMaxConns is Options.MaxConns when it is 0.
const DefaultMaxConns = 256

// ErrNoToken is returned by New and Listen for an API reachable beyond
// loopback without a token: anyone who reaches the port could start
// captures.
var ErrNoToken = errors.New("httpapi: a listen address beyond loopback needs a token ([http] token)")

// Options configures a Server.
type Options struct {
	// Listen is the host:port to bind ("127.0.0.1:0" picks a free port).
	// Beyond loopback a Token is required.
	Listen string
	// Token, when set, is required as a bearer token on /v1/.
	Token string
	// TLSCert and TLSKey are PEM files; when both are set the API speaks
	// HTTPS only. Server.ReloadTLS reads them again.
	TLSCert, TLSKey string
	// MaxConns caps the connections open at once (default
	// DefaultMaxConns); see connLimiter.
	MaxConns int
	// MaxBody is the largest request body, in bytes (default 64 KiB).
	MaxBody int64
	// ShutdownTimeout bounds the graceful shutdown (default 10s).
	ShutdownTimeout time.Duration
}

// withDefaults checks o and fills its zero fields.
func (o Options) withDefaults() (Options, error) {
	if o.Listen == "" {
		return o, errors.New("httpapi: no listen address")
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return o, fmt.Errorf("httpapi: listen %q: %w", o.Listen, err)
	}
	if o.Token == "" && !loopbackListen(o.Listen) {
		return o, fmt.Errorf("%w: %q is not a loopback address", ErrNoToken, o.Listen)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return o, errors.New("httpapi: [http] tlscert and tlskey must be set together")
	}
	if o.MaxConns < 0 {
		return o, fmt.Errorf("httpapi: [http] maxconns %d: must not be negative", o.MaxConns)
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	return o, nil
}

// loopbackListen reports whether a listen address binds loopback only: an
// empty host (every interface) does not.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && loopbackHost(host)
}

// loopbackHost reports whether host (without a port, brackets allowed) is
// "localhost" or a loopback address (127.0.0.0/8, ::1).
func loopbackHost(host string) bool {
	host = strings.TrimSuffix(host, ".") // "localhost." is localhost
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}
