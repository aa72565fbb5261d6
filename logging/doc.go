// Package logging builds the daemon's *slog.Logger: records on stderr, as
// key=value text or as JSON lines, and, when syslog is configured, the same
// records sent to syslog as key=value text with the configured facility and
// tag. The level is a slog.Leveler the caller keeps (a *slog.LevelVar), so
// that it can change while the daemon runs.
//
// Syslog is a copy, never a condition of running: a syslog that cannot be
// reached, at start or later, is reported once on stderr and redialled in
// the background with a capped backoff, while stderr keeps every record.
// Records logged while syslog is away are dropped for syslog (and counted),
// never buffered without bound. The syslog client is pure Go and speaks to
// the local socket (/dev/log and the other usual paths) or to a remote
// syslog over UDP or TCP.
package logging
