// Package s3 delivers captures to Amazon S3 or an S3-compatible server with
// aws-sdk-go-v2, straight from the capture's in-memory buffer.
//
// A capture up to Config.MultipartThreshold bytes goes up in one PutObject;
// a larger one as a multipart upload whose parts are io.SectionReaders over
// the same buffer, uploaded a few at a time, so the upload never copies the
// buffer nor touches the disk. The SDK's transfer manager
// (feature/s3/transfermanager) was measured against it on a loopback
// versitygw and not taken: it reads every part into buffers of its own,
// which for a 100 MiB capture is 120 MB allocated and about 300 MiB more
// peak RSS per upload, at the same or a lower throughput.
//
// Every call is retried by the SDK's standard retryer (Config.Retry gives
// its attempts per call and its backoff bounds; the SDK decides which
// failures are transient); a certificate that does not verify and other
// permanent failures (4xx) end the delivery at once with the server's
// message. Each retry is logged with the upload's location, and each
// attempt is bounded by Config.Timeout.
//
// # Per-request overrides
//
// A request may name its own bucket, endpoint, region, folder, acl and
// encryption. Because whoever can publish a request could otherwise send the
// capture anywhere, overrides that change the destination are checked:
//
//   - bucket: the configured bucket, or one listed in Config.AllowBuckets;
//   - endpoint: the configured endpoint, or one listed in
//     Config.AllowEndpoints (compared after normalisation: a bare host means
//     https://host);
//   - region: the configured region, one listed in Config.AllowRegions, or any
//     well-formed region when the effective endpoint is an explicit one (then
//     the region is only the signing region and cannot change the host). With
//     AWS's own endpoint resolution a region picks the host (and possibly
//     another AWS partition with its own bucket namespace), so it must be
//     allow-listed;
//   - acl: the configured ACL, or a canned ACL listed in Config.AllowACLs
//     (any other may widen who reads the capture);
//   - folder: the whole key prefix (not relative to the configured one). It
//     must be the configured folder, start with "<configured folder>/", or
//     be listed in Config.AllowFolders; with no configured folder any
//     folder is under it. Surrounding slashes are dropped; an empty, "." or
//     ".." segment, a backslash or a control character is always refused;
//   - encryption: may turn server-side encryption on, never off.
//
// A refused override is a *RefusedError naming the field, the value and,
// where one would let it through, the [s3] allow-list key to add it to; and
// nothing is uploaded anywhere.
// Sink.Check applies the same rules to a request before any capture runs.
//
// # Object
//
// The key is <folder>/<file name>; the user metadata carries the seed's tag
// string ("tags") and one key each for customer, alertid, node, interface,
// alias, snaplength, filter, requestid and started. S3 limits user metadata to
// 2 KB (keys plus values): the filter text, then the tag string, are truncated
// to fit, and the upload never fails for it.
package s3
