// Package tmpfile creates a temporary file, to be renamed into place, with
// the permissions its final file should have.
//
// os.CreateTemp always creates mode 0600, and a Chmod afterwards ignores
// the umask. Create instead opens a fresh random name with
// O_CREATE|O_EXCL and the wanted mode, so the kernel applies the process's
// umask exactly as it does for any other new file (a systemd UMask=0077
// keeps a 0640 capture at 0600; tcpdump's 0666 becomes 0644 under the usual
// 022).
package tmpfile
