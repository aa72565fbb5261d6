// Package retry paces repeated attempts, the same way for every transport,
// sink and the spool.
//
// A Policy is a capped exponential backoff with jitter: Policy.Delay(n) is
// the wait after the n-th failure in a row. Three ways to use it:
//
//   - Do runs an operation until it succeeds, fails for good (an error
//     marked with Permanent), the context ends or Policy.Attempts tries are
//     used up (sinks' uploads).
//   - Backoff counts the failures of a loop that never gives up and hands
//     out the next wait (reconnect loops of the transports).
//   - Policy.Delay alone, for callers that keep their own count or schedule
//     the next try themselves (the spool's rounds, the SQS receive loop, the
//     AWS SDK's retryer in the S3 sink).
//
// Whether a failure is worth another try is the caller's call; this package
// offers TransientStatus and TransientNetwork for HTTP and network
// failures, the facts every HTTP client agrees on.
package retry
