package request

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// NotifyInterrupts turns SIGINT and SIGTERM into the two steps of leaving
// "pcapdaemon request -wait": first is closed at the first signal (cancel
// the request, wait for its final results), and ctx ends at the second
// (leave at once). stop releases the signals.
func NotifyInterrupts(parent context.Context) (ctx context.Context, first <-chan struct{}, stop func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(parent)
	once := make(chan struct{})
	go func() {
		select {
		case <-sig:
		case <-ctx.Done():
			return
		}
		close(once)
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, once, func() { signal.Stop(sig); cancel() }
}

// untilClosed returns a context that ends with ctx or when ch is closed
// (nil: never), and its cancel function.
func untilClosed(ctx context.Context, ch <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if ch != nil {
		go func() {
			select {
			case <-ch:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}
