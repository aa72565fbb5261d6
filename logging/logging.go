package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// New returns a logger that writes text records at level and above to
// stderr, and also to syslog when s.Enabled(). The syslog facility comes
// from s.Priority; each record's severity follows its level (Error → err,
// Warn → warning, Info → info, Debug → debug), so the severity bits of the
// seed's priority are not used. s.Network and s.Address name a remote
// syslog; empty means the local one (/dev/log).
//
// The returned Closer closes the syslog connection. New fails when syslog is
// configured but cannot be reached; the caller may then go on with a
// stderr-only logger from New(stderr, level, config.Syslog{}).
func New(stderr io.Writer, level slog.Leveler, s config.Syslog) (*slog.Logger, io.Closer, error) {
	opts := &slog.HandlerOptions{Level: level}
	text := slog.NewTextHandler(stderr, opts)
	if !s.Enabled() {
		return slog.New(text), nopCloser{}, nil
	}
	w, err := syslog.Dial(s.Network, s.Address, syslog.Priority(s.Priority), s.Tag)
	if err != nil {
		where := s.Address
		if where == "" {
			where = "the local syslog"
		}
		return nil, nil, fmt.Errorf("logging: connecting to %s (priority %d, tag %q): %w", where, s.Priority, s.Tag, err)
	}
	return slog.New(slog.NewMultiHandler(text, NewSyslogHandler(w, opts))), w, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// SyslogWriter is the part of *syslog.Writer the handler uses: one method
// per severity.
type SyslogWriter interface {
	Err(m string) error
	Warning(m string) error
	Info(m string) error
	Debug(m string) error
}

// NewSyslogHandler returns a slog.Handler that formats records as
// key=value text (without a time: syslog stamps it) and sends each with the
// severity of its level.
func NewSyslogHandler(w SyslogWriter, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	next := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
			return slog.Attr{}
		}
		if next != nil {
			return next(groups, a)
		}
		return a
	}
	var h syslogHandler
	for i, send := range []func(string) error{w.Debug, w.Info, w.Warning, w.Err} {
		h.bySeverity[i] = slog.NewTextHandler(severityWriter(send), &o)
	}
	return &h
}

// syslogHandler holds one text handler per severity, each writing through
// the matching syslog method; WithAttrs and WithGroup apply to all four.
type syslogHandler struct {
	bySeverity [4]slog.Handler // debug, info, warning, err
}

func (h *syslogHandler) pick(l slog.Level) slog.Handler {
	switch {
	case l >= slog.LevelError:
		return h.bySeverity[3]
	case l >= slog.LevelWarn:
		return h.bySeverity[2]
	case l >= slog.LevelInfo:
		return h.bySeverity[1]
	}
	return h.bySeverity[0]
}

func (h *syslogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var n syslogHandler
	for i, s := range h.bySeverity {
		n.bySeverity[i] = s.WithAttrs(as)
	}
	return &n
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	var n syslogHandler
	for i, s := range h.bySeverity {
		n.bySeverity[i] = s.WithGroup(name)
	}
	return &n
}

// severityWriter sends each Write (one formatted record) as one syslog
// message.
type severityWriter func(string) error

func (f severityWriter) Write(p []byte) (int, error) {
	m := string(p)
	if len(m) > 0 && m[len(m)-1] == '\n' {
		m = m[:len(m)-1]
	}
	if err := f(m); err != nil {
		return 0, err
	}
	return len(p), nil
}
