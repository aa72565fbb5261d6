package spool

import (
	"errors"
	"fmt"
	"strings"
)

// SinkError is one sink's failure to take a capture.
type SinkError struct {
	Sink string
	Err  error
}

func (e SinkError) Error() string { return e.Sink + ": " + e.Err.Error() }
func (e SinkError) Unwrap() error { return e.Err }

func joinFailures(fs []SinkError) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

func unwrapFailures(fs []SinkError) []error {
	errs := make([]error, len(fs))
	for i, f := range fs {
		errs[i] = f
	}
	return errs
}

// SpooledError says that every sink failed and the capture was kept in the
// spool directory, to be delivered later by Run.
type SpooledError struct {
	Path     string // the spooled capture file
	Failures []SinkError
}

func (e *SpooledError) Error() string {
	return fmt.Sprintf("every sink failed; capture kept in spool %s and retried later: %s", e.Path, joinFailures(e.Failures))
}

// Unwrap returns each sink's failure.
func (e *SpooledError) Unwrap() []error { return unwrapFailures(e.Failures) }

// LostError says that no sink took a capture and it was not spooled: the
// capture is gone. It names what was lost and every reason.
type LostError struct {
	FileName string
	Packets  uint64
	Bytes    int64
	Failures []SinkError
	SpoolErr error // why the spool could not keep it
	NoSpool  bool  // no spool directory is configured
}

func (e *LostError) Error() string {
	why := joinFailures(e.Failures)
	switch {
	case e.SpoolErr != nil:
		why += "; spool: " + e.SpoolErr.Error()
	case e.NoSpool:
		why += " (no spool directory)"
	default:
		why += " (no failure can be retried)"
	}
	return fmt.Sprintf("capture lost: %s (%d packets, %d bytes) was not delivered: %s", e.FileName, e.Packets, e.Bytes, why)
}

// Unwrap returns each sink's failure and the spool's.
func (e *LostError) Unwrap() []error {
	errs := unwrapFailures(e.Failures)
	if e.SpoolErr != nil {
		errs = append(errs, e.SpoolErr)
	}
	return errs
}

// ErrTooLarge says that a capture is larger than the spool's maximum size
// (Config.MaxBytes): dropping every spooled capture would not make room
// for it, so it is not spooled and none is dropped.
var ErrTooLarge = errors.New("capture larger than the spool's maximum size")
