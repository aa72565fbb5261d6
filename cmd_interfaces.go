package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pcapdaemon/pcapdaemon/internal/cli/interfaces"
)

const interfacesUsage = `usage: pcapdaemon interfaces [-config FILE] [-json]

Lists the host's network interfaces as the daemon sees them: index, name,
the pcap link type a capture there produces (from the ARPHRD type), flags,
addresses and, with -config, the aliases the file's [[interface]] tables
give each one and their look-back rings: the history configured and, when
the daemon's HTTP API answers ([http] listen and token), the bytes and
seconds each ring holds now. The configuration is loaded and validated as
the daemon does (file, then PCAPDAEMON_* environment), so a bad alias fails
here too.
`

// runInterfaces implements "pcapdaemon interfaces" (internal/cli/interfaces).
// It returns the exit status: 0, 1 when the interfaces cannot be listed or
// the configuration does not load, 2 for a bad command line.
func runInterfaces(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pcapdaemon interfaces", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := interfaces.Options{Environ: os.Environ()}
	fs.StringVar(&o.Config, "config", "", "configuration `FILE` (TOML) whose [[interface]] aliases to show")
	fs.BoolVar(&o.JSON, "json", false, "print a JSON array instead of a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, interfacesUsage)
			return 0
		}
		fmt.Fprintf(stderr, "pcapdaemon interfaces: %v\n%s", err, interfacesUsage)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pcapdaemon interfaces: unexpected argument %q\n%s", fs.Arg(0), interfacesUsage)
		return 2
	}
	return interfaces.Run(o, stdout, stderr)
}
