// Package httpapi is the agent's HTTP API, a request source beside Redis and
// SQS:
//
//	POST   /v1/captures       a capture request, the same JSON as on Redis:
//	                          202 {"id": ...}; otherwise {"error", "id"} with
//	                          400 invalid, 409 duplicate id, 413 too large,
//	                          422 not for this node, 429 not admitted,
//	                          403 bad signature, 503 shutting down
//	GET    /v1/captures/{id}  the request's state and results; 404 if unknown
//	DELETE /v1/captures/{id}  cancel it early; 204, or 404
//
// With a token configured every /v1/ call needs "Authorization: Bearer
// <token>" (401 otherwise; compared in constant time). The listener binds to
// loopback by default. Serve shuts the server down gracefully, with a fresh
// timeout, when its context ends.
package httpapi
