package daemon

import (
	"log/slog"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// loadForHost loads the configuration and checks it against this host
// (directories, files, interfaces), at start and on every reload;
// pcapdaemon check runs the same as a dry run.
func (o Options) loadForHost() (*config.Config, []config.HostNote, error) {
	return config.Loader{Args: o.Args, Environ: o.Environ, Output: o.Stderr}.LoadForHost(config.HostOptions{})
}

// load is loadForHost with what the host check did logged, for reloads.
func (d *daemon) load() (*config.Config, error) {
	c, notes, err := d.opts.loadForHost()
	logHostNotes(d.log, notes)
	return c, err
}

// logHostNotes logs what the host check did (the default local directory
// created).
func logHostNotes(log *slog.Logger, notes []config.HostNote) {
	for _, n := range notes {
		log.Info("configuration: "+n.Text, "key", n.Key, "value", n.Value)
	}
}
