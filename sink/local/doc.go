// Package local delivers captures to a directory on this host. A file is
// written under a temporary name in the same directory, synced and renamed
// into place, so that a reader never sees half a file, and an existing file
// is never overwritten.
package local
