// Package retry runs an operation again after transient failures, with a
// capped exponential backoff and full jitter, and stops at once on permanent
// ones.
//
// Sinks share it so that every destination behaves alike: a 5xx reply, a
// throttling reply (429, SlowDown) or a broken connection is tried again up
// to Policy.Attempts times; a 4xx reply, a missing bucket or a bad token fails
// on the first attempt with the server's message. Classification is the
// caller's (an error wrapped with Permanent is never retried), helped by
// HTTPStatusTransient and NetworkTransient.
package retry
