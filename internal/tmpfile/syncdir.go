package tmpfile

import "os"

// SyncDir fsyncs the directory dir, so that the entries just created or
// renamed in it survive a crash (rename(2) is durable only once its
// directory is).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
