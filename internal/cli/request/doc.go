// Package request is the logic of "pcapdaemon request" and "pcapdaemon
// cancel": it publishes a capture request (or a cancel) on Redis, an SQS
// queue, an SNS topic or a daemon's HTTP API, with the clients of those
// transports' packages, and with -wait collects the result events, decides
// when every expected one is in and shows each capture's progress on
// stderr.
//
// Whom -wait waits for: on Redis, the agents' presence records say who is
// there; the request is matched against them with the agent's own rules
// (agent.Expect) before it is published, and an agent whose record goes
// away meanwhile is reported missing (fleet.go). Without presence (SQS,
// SNS) it cannot be known: a queue hands a message to one agent, and over
// SNS -count says how many results to wait for. Ctrl-C while waiting sends
// the cancel and waits for the final results; a second one leaves
// (NotifyInterrupts).
//
// Where to publish comes from the daemon's configuration file (-config,
// loaded through the config package's layers: defaults, file, environment;
// nothing on this host is checked), the secrets' environment variables
// without a file, and the command line's transport flags on top, merged
// by Resolve in one table (settingsTable). The root package parses the
// command line.
package request
