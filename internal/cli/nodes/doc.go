// Package nodes is the logic of "pcapdaemon nodes": it lists the agents
// that keep a presence record on Redis (transport/redis's Client.Nodes:
// SCAN on the server, or on every master of a cluster), as a table or as
// JSON. Where Redis is and the channel come from the daemon's
// configuration file, the environment and the flags, merged as "pcapdaemon
// request" merges them (request.Resolve). The root package parses the
// command line.
package nodes
