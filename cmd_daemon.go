package main

import (
	"context"
	"errors"
)

// runDaemon runs the capture agent until ctx is cancelled. (Stub.)
func runDaemon(ctx context.Context, args []string) error {
	return errors.New("daemon not implemented yet")
}
