// Package transport holds what the request sources share: the Submitter they
// hand raw messages to, the Guard that checks every message before anything
// else reads it (size limit, optional signed envelope with a time window and
// replay cache), and the reconnect helpers (capped exponential backoff and a
// logger that speaks once per state change, not once per attempt).
//
// The sources themselves live in sub-packages: transport/redis (pub/sub with
// rueidis) and transport/httpapi (the HTTP API).
//
// # Signed envelopes
//
// With a key configured, a request must arrive as
//
//	{"t": <unix seconds>, "sig": "<hex HMAC-SHA256(key, "<t>.<body>")>", "body": "<request JSON as a string>"}
//
// The Guard rejects it when unsigned, badly signed, outside the time window
// (now ± maxskew) or already seen within it (a replay), and counts each
// reason. Sign builds such an envelope.
package transport
