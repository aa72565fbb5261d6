// Package fromconfig maps the daemon's configuration (package config) onto
// the options each part of the daemon takes: the transports, the sinks,
// the agent and the logger.
//
// It is the one place where those packages meet the configuration. The
// design's import rules keep config out of agent, transport/..., sink/...,
// metrics and logging: each takes its own options, so that it can be used
// and tested without a configuration file, and a new config key changes
// this package and the one that uses it, nothing in between. The daemon
// (internal/daemon) and the request command (internal/cli/request) call it.
package fromconfig
