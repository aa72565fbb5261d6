// Package logging builds the daemon's *slog.Logger: text records on stderr
// and, when [syslog] priority is set, the same records sent to syslog with
// the configured facility and tag (log/syslog, pure Go).
package logging
