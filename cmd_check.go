package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pcapdaemon/pcapdaemon/config"
)

// runCheck implements "pcapdaemon check [-config FILE] [seed flags]": the
// daemon's configuration step as a dry run, like nginx -t or promtool
// check config. It returns the exit status: 0 when the daemon would accept
// the configuration on this host, 1 when it would not, 2 for a bad command
// line.
func runCheck(args []string, stdout, stderr io.Writer) int {
	return checkConfig(args, os.Environ(), nil, stdout, stderr)
}

// checkConfig loads the configuration from args and environ exactly as
// the daemon does (config.Loader.LoadForHost), but as a dry run: no
// directory is created and none is written to, no socket is opened but
// netlink's to list interfaces (interfaces, nil for the host's). A valid
// configuration is printed on stdout, one "section.key = value" line per
// key with secrets masked, notes and the verdict on stderr; otherwise
// every problem goes to stderr, one per line, starting with its key.
func checkConfig(args, environ []string, interfaces func() ([]string, error), stdout, stderr io.Writer) int {
	l := config.Loader{Args: args, Environ: environ, Output: stderr, Command: "check"}
	cfg, notes, err := l.LoadForHost(config.HostOptions{DryRun: true, Interfaces: interfaces})
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
