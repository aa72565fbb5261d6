// Package sqs takes capture requests from an Amazon SQS queue (or an
// SQS-compatible server) by long polling, and optionally publishes result
// events to a second queue.
//
// Queue.Run receives up to ChunkSize messages at a time (never more than
// SQS's limit of 10) with WaitSeconds long polls, hands each to a Submitter
// with a bounded number in flight, and settles each message by what Submit
// returned:
//
//   - accepted (nil error), or settled for good (Config.IsPermanent; by
//     default an invalid request, a request id already taken, a request
//     rejected for lack of budget, a message the transport.Guard rejected):
//     deleted — delivering it again cannot help;
//   - meant for another node (Config.IsForeign, by default
//     agent.ErrNotForNode): deleted from this agent's
//     own queue, released (visibility 0) on a queue shared by several
//     agents (Config.Shared) so that another agent gets it;
//   - refused by the Guard in front of the agent (transport.ErrRejected:
//     too large, unsigned, badly signed, stale, replayed): deleted and
//     counted (Queue.Refused) — no agent can ever take it, so it must not
//     come back until its retention ends. A replay on a shared queue is
//     released instead: this agent may have released it before as another
//     node's request; it turns stale for every agent within the Guard's
//     time window and is deleted then;
//   - any other failure (transient: admission full, shutting down, ...):
//     left alone, so that SQS delivers it again after its visibility
//     timeout.
//
// A message that SNS delivered wrapped in its JSON envelope (a topic's
// subscription without RawMessageDelivery) is unwrapped first: the
// envelope's Message is what the Submitter gets. A fleet fans out through
// an SNS topic that every agent's own queue subscribes to; TopicClient
// publishes on it for the requester. A cancel message for a request this
// agent does not run is settled as a request for another node.
//
// SQS delivers at least once: the same request may arrive twice. The agent
// drops request ids it has seen (agent.ErrDuplicate, which deletes the
// copy); this package makes sure a message is deleted once it was taken.
//
// On a shared queue, a request that matches no agent polling it is
// released again and again until its retention period ends: give such
// queues a short retention, as the seed's README advises.
//
// A rejection is logged once: the agent logs the requests it rejects, this
// package only the Guard's rejections (which never reach the agent).
//
// Receive failures (queue unreachable, credentials refused) are retried with
// a capped exponential backoff and logged once when the queue starts failing
// and once when it recovers, not on every attempt.
//
// Config.Protocol "query" makes the client speak SQS's older query protocol
// (form-encoded requests, XML replies) instead of the JSON protocol that
// aws-sdk-go-v2 uses by default, for servers that only speak that (goaws);
// AWS accepts both.
package sqs
