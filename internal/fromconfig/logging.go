package fromconfig

import (
	"log/slog"

	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/logging"
)

// Logging maps [log] format and [syslog] onto the logger's options;
// localPaths are the local syslog sockets to try (nil: the usual ones).
func Logging(c *config.Config, localPaths []string) logging.Options {
	s := c.Syslog
	return logging.Options{
		Format:   logging.Format(c.Log.Format),
		Priority: s.Priority, Tag: s.Tag, Network: s.Network, Address: s.Address,
		LocalPaths: localPaths,
	}
}

// LogLevel maps [log] level ("debug", "info", "warn", "error"; validated
// by config) onto a slog level; anything else is info.
func LogLevel(l config.Log) slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
