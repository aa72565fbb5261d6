// Package httpapi is the agent's HTTP API, a request source beside Redis and
// SQS:
//
//	POST   /v1/captures       a capture request, the same JSON as on Redis:
//	                          202 {"id": ...}; otherwise {"error", "id"} with
//	                          400 invalid, 409 id held by another request,
//	                          413 too large, 422 not for this node,
//	                          429 not admitted, 403 bad signature,
//	                          503 shutting down
//	GET    /v1/captures       the requests, newest first (a Lister):
//	                          ?state=running|done, ?limit=N (default 50,
//	                          at most 1000), ?cursor= the "next" of the
//	                          page before; {"captures": [...], "next"}
//	GET    /v1/captures/{id}  the request's state and results, and "live"
//	                          counters of its running captures; 404 if
//	                          unknown
//	GET    /v1/captures/{id}/file[?interface=X]
//	                          the capture's local file (a Filer), as an
//	                          attachment (pcap or pcapng content type,
//	                          Range supported); 404 with the reason when
//	                          there is none
//	DELETE /v1/captures/{id}  cancel it early; 204, or 404
//
// ServeStatus adds the status page, GET / (status.go says what it shows
// with and without a token), and the endpoints it uses: GET /v1/agent,
// POST /v1/filter/check and GET /v1/ui/{section}. NewMetrics makes the
// listener of /metrics and the health checks when they have their own
// (metrics.go).
//
// With a token configured every /v1/ call needs "Authorization: Bearer
// <token>" (401 otherwise; compared in constant time). The listener binds to
// loopback by default; New refuses an address beyond loopback without a
// token (ErrNoToken). Every error answer is JSON: {"error": ...}.
//
// Web pages are kept out (browser.go says why): on a loopback listener only
// loopback Host names are answered (421 otherwise: DNS rebinding); POST and
// DELETE need "Content-Type: application/json" (415) and, when they carry
// an Origin header, the API's own origin (403).
//
// With Options.TLSCert and TLSKey the API speaks HTTPS only (ReloadTLS reads
// the files again). At most Options.MaxConns connections are open at once:
// at the cap, the oldest connection that is not running a handler (a slow
// client still sending its headers, an idle keep-alive) is closed to make
// room, so slow clients cannot lock real ones out (limit.go); the server's
// timeouts (5s for the headers and the TLS handshake, 30s idle) bound the
// rest. Serve shuts the server down gracefully, with a fresh timeout, when
// its context ends.
package httpapi
