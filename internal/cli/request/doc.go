// Package request is the logic of "pcapdaemon request": it publishes a
// capture request on Redis, an SQS queue or a daemon's HTTP API, with the
// clients of those transports' packages, and with -wait collects the
// result events, decides when every expected one is in and shows each
// capture's progress on stderr.
//
// Where to publish comes from the daemon's configuration file (-config,
// loaded through the config package's layers: defaults, file, environment;
// nothing on this host is checked), the secrets' environment variables
// without a file, and the command line's transport flags on top, merged
// by Resolve in one table (settingsTable). The root package parses the
// command line.
package request
