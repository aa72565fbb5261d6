// Package redis is the Redis pub/sub request source and result publisher,
// built on github.com/redis/rueidis, which speaks to a single server, a
// Cluster or a Sentinel-managed master alike.
//
// A Transport subscribes to the request channel and hands each message to a
// transport.Submitter with source "redis". When the server goes away it
// reconnects and resubscribes on its own, with capped exponential backoff,
// logging once per state change rather than once per attempt. It publishes
// result events as JSON on the results channel (it implements
// agent.ResultPublisher). With Options.Presence it keeps the agent's
// presence record (presence.go): the key <channel>.node.<node>, renewed
// every 10s, expiring 30s after the last renewal, deleted when Run ends.
// Client is a short-lived connection for the "pcapdaemon request", "cancel"
// and "nodes" commands: publish a request, wait for results, list the
// presence records (SCAN on every master of a cluster, never KEYS).
//
// # Flow control
//
// Workers messages are submitted at once (8 by default), so that a request
// whose filter takes seconds to compile (its host names resolve slowly)
// does not hold up those behind it. Received messages wait in a queue
// bounded both in count (QueueSize) and in bytes (QueueBytes, 16 ×
// MaxMessage by default). A message larger than MaxMessage ([general]
// maxmessage) is dropped as it arrives, before it is copied or queued, and
// so is one that finds the queue full. Either is counted (Dropped) and, when
// its first 4 KiB name an id (at the top level, or in a signed envelope's
// body) and it may be for this node, answered with a rejected result on the
// results channel saying why: the requester does not wait for ever.
//
// What a flood can make the agent hold is therefore QueueBytes, plus
// Workers messages being submitted, plus what the client library reads:
// rueidis reads every pub/sub message whole into memory before it calls
// back (it has no limit on a bulk string's size), and keeps up to 16
// messages in a channel between its reader and the callback. The callback
// returns at once, so these are transient, one or two messages at a time:
// 50 messages of 20 MB raise the daemon's peak RSS to about 100 MB (1.3 GB
// before oversize messages were dropped on arrival).
//
// The server's own bounds help but are not relied on: redis-server closes
// a subscriber whose output buffer exceeds client-output-buffer-limit
// pubsub (32 MB hard, 8 MB for 60 s by default), which ends a flood that
// the agent cannot read fast enough (it reconnects and resubscribes, losing
// what the server dropped), and proto-max-bulk-len (512 MB by default, 1 MB
// at least) bounds one PUBLISH: lowering it on a server used only for
// requests refuses the largest messages at the publisher.
package redis
