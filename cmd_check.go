package main

import (
	"io"
	"os"

	"github.com/pcapdaemon/pcapdaemon/internal/cli/check"
)

// runCheck implements "pcapdaemon check [-config FILE] [seed flags]"
// (internal/cli/check): the daemon's configuration step as a dry run. Its
// flags are the daemon's, parsed by the config package. It returns the
// exit status: 0 when the daemon would accept the configuration on this
// host, 1 when it would not, 2 for a bad command line.
func runCheck(args []string, stdout, stderr io.Writer) int {
	return check.Run(check.Options{Args: args, Environ: os.Environ()}, stdout, stderr)
}
