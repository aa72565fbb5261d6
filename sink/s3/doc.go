// Package s3 delivers captures to Amazon S3 or an S3-compatible server with
// aws-sdk-go-v2, straight from the capture's in-memory buffer.
//
// A capture up to Config.MultipartThreshold bytes goes up in one PutObject;
// a larger one as a multipart upload whose parts are io.SectionReaders over
// the same buffer, uploaded a few at a time, so the upload never copies the
// buffer nor touches the disk. Every call is retried by package sink/retry
// (the SDK's own retryer is off, so the total number of attempts is
// Policy.Attempts per call); permanent failures (4xx) end the delivery at
// once with the server's message.
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
