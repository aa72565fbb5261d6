package logging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Format is how records are written on stderr.
type Format string

// The stderr formats.
const (
	// FormatText is slog's key=value text (the zero Format means it too).
	FormatText Format = "text"
	// FormatJSON is one JSON object a line (slog.NewJSONHandler), for log
	// collectors that parse JSON.
	FormatJSON Format = "json"
)

// Options configures the log: the format of stderr and the syslog copy.
// The zero value writes text to stderr and leaves syslog off.
type Options struct {
	// Format is the stderr format: FormatText ("" too) or FormatJSON.
	// Syslog gets key=value text whatever it is: a syslog message is a
	// line of text, with its own time and severity.
	Format Format
	// Priority is facility|severity as in <sys/syslog.h>; 0 leaves syslog
	// off. Only the facility is used: each record's severity follows its
	// level (Error → err, Warn → warning, Info → info, Debug → debug).
	Priority int
	// Tag names the program in each message ("pcapdaemon").
	Tag string
	// Network and Address name a remote syslog ("udp", "host:514"; also
	// "tcp", "unix", "unixgram"). Empty means the local syslog.
	Network string
	Address string
	// LocalPaths are the local syslog sockets tried in order when Network
	// is empty; nil means DefaultLocalPaths().
	LocalPaths []string
	// MinBackoff and MaxBackoff bound the wait between connection
	// attempts: it starts at MinBackoff and doubles up to MaxBackoff
	// (defaults 1s and 1m).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// QueueLen is how many records may wait for the syslog connection
	// (default 1024); beyond it records are dropped for syslog.
	QueueLen int
}

// Enabled reports whether o sends the log to syslog.
func (o Options) Enabled() bool { return o.Priority > 0 }

// DefaultLocalPaths returns the local syslog sockets tried when no path is
// configured, in the order the C library and log/syslog try them.
func DefaultLocalPaths() []string {
	return []string{"/dev/log", "/var/run/syslog", "/var/run/log"}
}

// maxPriority is LOG_LOCAL7|LOG_DEBUG, the largest <sys/syslog.h> defines.
const maxPriority = 23<<3 | 7

// ErrOptions is wrapped by the errors New and NewSyslog return for options
// they cannot use.
var ErrOptions = errors.New("logging: invalid options")

func (o Options) withDefaults() (Options, error) {
	if o.Priority < 0 || o.Priority > maxPriority {
		return o, fmt.Errorf("%w: priority %d: must be 0 to %d", ErrOptions, o.Priority, maxPriority)
	}
	if o.Tag == "" {
		return o, fmt.Errorf("%w: empty tag", ErrOptions)
	}
	switch o.Network {
	case "", "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6", "unix", "unixgram":
	default:
		return o, fmt.Errorf("%w: network %q: want udp, tcp, unix or unixgram", ErrOptions, o.Network)
	}
	if (o.Network == "") != (o.Address == "") {
		return o, fmt.Errorf("%w: network %q and address %q must be set together", ErrOptions, o.Network, o.Address)
	}
	if o.LocalPaths == nil {
		o.LocalPaths = DefaultLocalPaths()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.QueueLen <= 0 {
		o.QueueLen = 1024
	}
	return o, nil
}

// New returns a logger that writes records at level and above to stderr,
// as o.Format says, and also to syslog when o.Enabled(). level is read for
// every record: a *slog.LevelVar changes what every handler logs at once
// (the daemon sets it on SIGHUP).
//
// An unreachable syslog does not make New fail: the syslog client (see
// NewSyslog) warns once on stderr and keeps trying until ctx is done or
// the returned Closer is called. New fails only for options it cannot use
// (ErrOptions). The Closer sends what is queued for syslog, within a
// second, and stops the client; it may be called more than once.
func New(ctx context.Context, stderr io.Writer, level slog.Leveler, o Options) (*slog.Logger, io.Closer, error) {
	opts := &slog.HandlerOptions{Level: level}
	var std slog.Handler
	switch o.Format {
	case "", FormatText:
		std = slog.NewTextHandler(stderr, opts)
	case FormatJSON:
		std = slog.NewJSONHandler(stderr, opts)
	default:
		return nil, nil, fmt.Errorf("%w: format %q: want %q or %q", ErrOptions, o.Format, FormatText, FormatJSON)
	}
	if o.Priority == 0 {
		return slog.New(std), nopCloser{}, nil
	}
	s, err := NewSyslog(ctx, o, slog.New(std))
	if err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewMultiHandler(std, NewSyslogHandler(s, opts))), s, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
