package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/pcapdaemon/pcapdaemon/internal/daemon"
)

// runDaemon implements "pcapdaemon [flags]": the daemon (internal/daemon)
// until SIGINT or SIGTERM; SIGHUP reloads its configuration. It returns the
// exit status.
func runDaemon(args []string, stderr io.Writer) int {
	// SIGHUP is caught first: its default action would end the process,
	// and an operator's reload must never do that.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := daemon.Run(ctx, daemon.Options{
		Args: args, Environ: os.Environ(), Stderr: stderr, Version: version, Reload: hup,
	})
	if err != nil {
		fmt.Fprintln(stderr, "pcapdaemon:", err)
		return 1
	}
	return 0
}
