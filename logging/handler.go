package logging

import (
	"context"
	"log/slog"
)

// SyslogWriter takes one formatted record per call, with the severity of
// the method; *Syslog implements it.
type SyslogWriter interface {
	Err(m string) error
	Warning(m string) error
	Info(m string) error
	Debug(m string) error
}

// NewSyslogHandler returns a slog.Handler that formats records as
// key=value text (without a time or level: syslog has both) and sends each
// with the severity of its level.
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
