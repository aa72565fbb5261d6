// Package local delivers captures to a directory on this host. A file is
// written under a temporary name in the same directory, synced and renamed
// into place, so that a reader never sees half a file, and an existing file
// is never overwritten.
//
// With a Retention the sink keeps the directory within bounds of files,
// bytes and age, removing the oldest of its own capture files after each
// delivery (and whenever Prune is called); Open serves those files back
// (GET /v1/captures/{id}/file), and nothing outside them.
package local
