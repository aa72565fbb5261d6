package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// runVersion implements "pcapdaemon version": it prints the version stamped
// by scripts/build.sh, the Go release and the platform. A binary built
// without the stamp ("dev") names the VCS revision go build recorded, when
// it recorded one. It returns the exit status: 0, or 2 for a bad command line.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pcapdaemon version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: pcapdaemon version") }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pcapdaemon version: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintf(stdout, "pcapdaemon %s (%s %s/%s)\n", versionString(version, bi), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

// versionString returns v, or for the unstamped "dev" build "dev+<revision>"
// (with "-dirty" for a modified tree) from the VCS settings in bi, when
// go build recorded them.
func versionString(v string, bi *debug.BuildInfo) string {
	if v != "dev" || bi == nil {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return v + "+" + rev
}
