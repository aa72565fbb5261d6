// Package cloudshark delivers captures to CloudShark through its documented
// upload API:
//
//	POST <scheme>://<host>[:<port>]/api/v1/<token>/upload
//
// as multipart/form-data with the capture in the "file" part, its name in
// "filename" and the seed's tag string in "additional_tags". CloudShark
// answers 200 with {"filename": ..., "id": ...} and the capture is then at
// <scheme>://<host>[:<port>]/captures/<id>; a failure is a 4xx or 5xx reply
// with {"status": ..., "exceptions": [...]}.
//
// The body is streamed from the capture's in-memory buffer: the multipart
// framing is computed first, so the request carries a Content-Length and
// the file bytes are read straight from the buffer (no temp file, no copy),
// and every retry rereads it from offset 0. Replies 5xx, 408 and 429 and
// connection failures are retried (package internal/retry); other 4xx replies
// fail at once with CloudShark's exceptions text.
//
// TLS certificates are verified unless Config.Insecure is set, which logs a
// warning. The API token is part of the URL, so it is replaced by
// "REDACTED" in every error this package returns or logs (the retries'
// warnings included).
package cloudshark
