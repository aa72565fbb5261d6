package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// HostOptions says how CheckHost looks at the host.
type HostOptions struct {
	// Interfaces lists the host's interface names; nil means the real
	// host's (net.Interfaces). It is only called when the configuration
	// has [[interface]] tables.
	Interfaces func() ([]string, error)
	// DryRun changes nothing on the host (pcapdaemon check): the default
	// local directory, when missing, is reported as a HostNote instead of
	// created, and a directory is judged writable by its owner and
	// permission bits, for the user running the check, instead of by
	// creating a file in it (so access control lists and read-only mounts
	// show only when the daemon starts).
	DryRun bool
}

// HostNote is something CheckHost did, or in a dry run would do, that is
// not a problem: the default local directory created.
type HostNote struct {
	Key   string // "general.localdir"
	Value string // the directory
	Text  string // what happened, or will
}

func (n HostNote) String() string { return fmt.Sprintf("%s = %q: %s", n.Key, n.Value, n.Text) }

// CheckHost checks what c needs from this host and returns every problem,
// joined, each a *KeyError naming the key: the local and spool
// directories exist and are writable, the TLS files can be read, and the
// [[interface]] names exist. When local writing is on and general.localdir
// is the default, a missing directory is created (or, with DryRun,
// reported as to be created). It opens no socket but netlink's, to list
// interfaces.
func (c *Config) CheckHost(o HostOptions) ([]HostNote, error) {
	notes, errs := c.checkHost(o)
	var v validator
	v.errs = errs
	return notes, v.err(c.File)
}

func (c *Config) checkHost(o HostOptions) ([]HostNote, []error) {
	var v validator
	var notes []HostNote
	g := c.General
	if g.WriteLocal && g.LocalDir != "" {
		if n, handled := c.prepareLocalDir(&v, o.DryRun); n != nil {
			notes = append(notes, *n)
		} else if !handled {
			v.writableDir("general.localdir", g.LocalDir, o.DryRun)
		}
	}
	if g.SpoolDir != "" {
		v.writableDir("general.spooldir", g.SpoolDir, o.DryRun)
	}
	v.readableFile("redis.tlsca", c.Redis.TLSCA)
	v.readableFile("http.tlscert", c.HTTP.TLSCert)
	v.readableFile("http.tlskey", c.HTTP.TLSKey)
	c.checkInterfaces(&v, o.Interfaces)
	return notes, v.errs
}

// prepareLocalDir creates the default local directory when it does not
// exist, or in a dry run checks that it could be, and says so in a note.
// It reports handled false when there was nothing to create (a configured
// directory is never created: it must exist).
func (c *Config) prepareLocalDir(v *validator, dryRun bool) (note *HostNote, handled bool) {
	dir := c.General.LocalDir
	if !c.localDirDefault {
		return nil, false
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	note = &HostNote{Key: "general.localdir", Value: dir}
	if dryRun {
		// The nearest existing ancestor is where MkdirAll would write.
		parent := filepath.Dir(filepath.Clean(dir))
		for {
			if _, err := os.Stat(parent); !errors.Is(err, fs.ErrNotExist) || parent == filepath.Dir(parent) {
				break
			}
			parent = filepath.Dir(parent)
		}
		if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
			v.add("general.localdir", dir, "the default directory cannot be created: %s is not a directory", parent)
		} else if ok, why := writableByMe(fi); !ok {
			v.add("general.localdir", dir, "the default directory cannot be created in %s: %s", parent, why)
		}
		note.Text = "does not exist yet: it will be created when the daemon starts"
		return note, true
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		v.add("general.localdir", dir, "creating the default directory: %v", unwrapPath(err))
		return nil, true
	}
	note.Text = "created (the default directory)"
	return note, true
}

// writableDir checks that dir exists, is a directory and accepts a new
// file: by creating one, or in a dry run by its permission bits.
func (v *validator) writableDir(key, dir string, dryRun bool) {
	fi, err := os.Stat(dir)
	if err != nil {
		v.add(key, dir, "directory does not exist or cannot be read: %v", unwrapPath(err))
		return
	}
	if !fi.IsDir() {
		v.add(key, dir, "is not a directory")
		return
	}
	if dryRun {
		if ok, why := writableByMe(fi); !ok {
			v.add(key, dir, "directory is not writable: %s", why)
		}
		return
	}
	f, err := os.CreateTemp(dir, ".pcapdaemon-write-test-*")
	if err != nil {
		v.add(key, dir, "directory is not writable: %v", unwrapPath(err))
		return
	}
	f.Close()
	os.Remove(f.Name())
}

// readableFile checks that path, when set, is a file this process can
// open for reading.
func (v *validator) readableFile(key, path string) {
	if path == "" {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		v.add(key, path, "cannot read the file: %v", unwrapPath(err))
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		v.add(key, path, "is a directory, not a file")
	}
}

// unwrapPath drops the *PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkInterfaces checks that every [[interface]] name exists on the host
// ("any" always does).
func (c *Config) checkInterfaces(v *validator, list func() ([]string, error)) {
	if len(c.Interfaces) == 0 {
		return
	}
	if list == nil {
		list = hostInterfaces
	}
	host, err := list()
	if err != nil {
		v.add("interface", nil, "cannot list the host's interfaces to check them: %v", err)
		return
	}
	missing := make(map[string]bool)
	for i, in := range c.Interfaces {
		if in.Name == "" || in.Name == "any" || slices.Contains(host, in.Name) || missing[in.Name] {
			continue
		}
		missing[in.Name] = true
		v.add(fmt.Sprintf("interface[%d].name", i), in.Name, "no such interface on this host (it has %s)", strings.Join(host, ", "))
	}
}

// hostInterfaces lists the real host's interface names.
func hostInterfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ifs))
	for i, in := range ifs {
		names[i] = in.Name
	}
	return names, nil
}
