// Package daemon is pcapdaemon's daemon: Run loads the configuration,
// builds the parts from it and runs them until its context ends.
//
// The wiring, in the order a request travels:
//
//	source (redis, sqs, http) → metrics.CountRequests → transport.Guard → agent
//	agent → sinks (each measured) → spool when all failed → result publishers
//
// Run is a sequence of small steps, each in its own file: load the
// configuration and check it against this host (load.go), start the
// logger, the metrics and the health checks (observe.go), build the sinks,
// the spool and the journal (delivery.go), the request sources and the
// Guard in front of the agent (sources.go), the agent with its pool of
// capture sockets (agent.go), then run everything, reload on a signal
// (reload.go) and shut down within the grace period (serve.go).
//
// The configuration is mapped onto each part's options by
// internal/fromconfig; no part below this package reads the configuration.
package daemon
