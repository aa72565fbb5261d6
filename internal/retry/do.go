package retry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// permanentError marks a failure that another try cannot help.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth another try: Do stops at it.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Error is Do's error: it wraps the last failure.
type Error struct {
	// Attempts is the number of tries made.
	Attempts int
	// Permanent is set when the tries ended before Policy.Attempts were
	// used: a failure marked Permanent, or the context ended.
	Permanent bool
	// Err is the last failure.
	Err error
}

func (e *Error) Error() string {
	if e.Permanent {
		return e.Err.Error()
	}
	return fmt.Sprintf("giving up after %d attempts: %v", e.Attempts, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Notify hears of every failure that Do (or another retry loop) will try
// again: the failure, the tries made so far and the wait before the next.
type Notify func(err error, attempts int, wait time.Duration)

// Log returns a Notify that logs each retried failure at Warn level, with
// args (what is being tried) before the try count, the wait and the
// error. A nil log gives a nil Notify.
func Log(log *slog.Logger, args ...any) Notify {
	if log == nil {
		return nil
	}
	return func(err error, attempts int, wait time.Duration) {
		log.Warn("transient failure, retrying", append(args[:len(args):len(args)],
			"attempt", attempts, "backoff", wait, "err", err)...)
	}
}

// Do calls fn until it returns nil, returns an error marked Permanent, ctx
// ends or p.Attempts tries have failed, waiting p.Delay between tries.
// notify, if not nil, hears of each failure before the wait. The error is
// nil or an *Error; when ctx ended, it wraps ctx's error too.
func Do(ctx context.Context, p Policy, notify Notify, fn func(ctx context.Context) error) error {
	p = p.WithDefaults()
	for tries := 1; ; tries++ {
		err := fn(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return &Error{Attempts: tries, Permanent: true, Err: withCause(err, ctx.Err())}
		case IsPermanent(err):
			return &Error{Attempts: tries, Permanent: true, Err: err}
		case tries >= p.Attempts:
			return &Error{Attempts: tries, Err: err}
		}
		d := p.Delay(tries)
		if notify != nil {
			notify(err, tries, d)
		}
		if werr := Wait(ctx, d); werr != nil {
			return &Error{Attempts: tries, Permanent: true, Err: withCause(err, werr)}
		}
	}
}

// withCause returns err wrapping cause too (the context's error), so that
// errors.Is finds both, unless err already wraps it.
func withCause(err, cause error) error {
	if errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, cause)
}
