// Package redis is the Redis pub/sub request source and result publisher,
// built on github.com/redis/rueidis, which speaks to a single server, a
// Cluster or a Sentinel-managed master alike.
//
// A Transport subscribes to the request channel and hands each message to a
// transport.Submitter with source "redis". When the server goes away it
// reconnects and resubscribes on its own, with capped exponential backoff,
// logging once per state change rather than once per attempt. It publishes
// result events as JSON on the results channel (it implements
// agent.ResultPublisher). Client is a short-lived connection for the
// "pcapdaemon request" command: publish a request, wait for results.
package redis
