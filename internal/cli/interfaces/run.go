package interfaces

import (
	"fmt"
	"io"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// Options are what "pcapdaemon interfaces" was asked for.
type Options struct {
	// Config is a configuration file whose [[interface]] aliases to show
	// ("" none). It is loaded and validated as the daemon does, with
	// Environ's PCAPDAEMON_* variables, on this host but as a dry run:
	// listing interfaces creates no directory.
	Config  string
	Environ []string
	// JSON prints a JSON array instead of a table.
	JSON bool
}

// Run lists the host's interfaces on stdout; problems go to stderr. It
// returns the exit status: 0, or 1 when the interfaces cannot be listed or
// the configuration does not load.
func Run(o Options, stdout, stderr io.Writer) int {
	var aliases map[string][]string
	var cfg *config.Config
	if o.Config != "" {
		l := config.Loader{Args: []string{"-config", o.Config}, Environ: o.Environ, Output: stderr}
		var err error
		if cfg, _, err = l.LoadForHost(config.HostOptions{DryRun: true}); err != nil {
			fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n", err)
			return 1
		}
		aliases = aliasesByInterface(cfg.Interfaces)
	}
	list, err := List(aliases)
	if err != nil {
		fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n", err)
		return 1
	}
	if cfg != nil {
		list = addLookback(list, cfg, o.Config, o.Environ)
	}
	if o.JSON {
		err = WriteJSON(stdout, list)
	} else {
		err = WriteTable(stdout, list)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n", err)
		return 1
	}
	return 0
}

// aliasesByInterface maps each configured interface name to its aliases,
// in file order.
func aliasesByInterface(ifs []config.Interface) map[string][]string {
	m := make(map[string][]string, len(ifs))
	for _, in := range ifs {
		m[in.Name] = append(m[in.Name], in.Alias...)
	}
	return m
}
