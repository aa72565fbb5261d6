// Package retry paces repeated attempts, the same way for every transport,
// sink and the spool.
//
// A Policy is a capped exponential backoff with jitter: Policy.Delay(n) is
// the wait after the n-th failure in a row. Three ways to use it:
//
//   - Do runs an operation until it succeeds, fails for good (an error
//     marked with Permanent), the context ends or Policy.Attempts tries are
//     used up (the CloudShark upload).
//   - Backoff counts the failures of a loop that never gives up and hands
//     out the next wait (the Redis reconnect loop).
//   - Policy.Delay alone, for callers that keep their own count or schedule
//     the next try themselves (the spool's rounds, the SQS receive loop, an
//     abandoned multipart upload's abort).
//
// The S3 sink hands a Policy's Attempts, Initial and Max to the AWS SDK's
// own retryer, whose backoff is the same full-jitter doubling, and logs its
// retries through Log.
//
// Whether a failure is worth another try is the caller's call; this package
// offers TransientStatus and TransientNetwork for HTTP and network
// failures, the facts every HTTP client agrees on.
package retry
