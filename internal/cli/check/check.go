package check

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// Options are what "pcapdaemon check" checks.
type Options struct {
	// Args are the command line after "check": -config and the seed's
	// flags, parsed by config.Loader as the daemon's.
	Args []string
	// Environ is the environment (PCAPDAEMON_* variables).
	Environ []string
	// Interfaces lists the host's interfaces (nil: the real host's).
	Interfaces func() ([]string, error)
}

// Run loads the configuration exactly as the daemon does
// (config.Loader.LoadForHost), but as a dry run: no directory is created
// and none is written to, no socket is opened but netlink's to list
// interfaces. A valid configuration is printed on stdout, one
// "section.key = value" line per key with secrets masked, notes and the
// verdict on stderr; otherwise every problem goes to stderr, one per line,
// starting with its key. It returns the exit status: 0 when the daemon
// would accept the configuration on this host, 1 when it would not, 2 for
// a bad command line.
func Run(o Options, stdout, stderr io.Writer) int {
	l := config.Loader{Args: o.Args, Environ: o.Environ, Output: stderr, Command: "check"}
	cfg, notes, err := l.LoadForHost(config.HostOptions{DryRun: true, Interfaces: o.Interfaces})
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *config.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "pcapdaemon check: %v\n", ue.Err)
		return 2
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	var pe *config.ProblemsError
	switch {
	case errors.As(err, &pe):
		for _, p := range pe.Problems {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "pcapdaemon check: %s: %d problem(s): the daemon would not start\n", pe.File, len(pe.Problems))
		return 1
	case err != nil: // the file is missing, or not TOML
		fmt.Fprintf(stderr, "pcapdaemon check: %v\n", err)
		return 1
	}
	if err := checkLookback(cfg); errors.As(err, &pe) {
		for _, p := range pe.Problems {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "pcapdaemon check: %s: %d problem(s): the daemon would not start\n", pe.File, len(pe.Problems))
		return 1
	}
	for _, s := range cfg.Redacted().Settings() {
		fmt.Fprintln(stdout, s)
	}
	name := cfg.File
	if name == "" {
		name = "defaults"
	}
	fmt.Fprintf(stderr, "pcapdaemon check: %s: the configuration is valid (secrets masked)\n", name)
	return 0
}
