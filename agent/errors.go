package agent

import (
	"errors"
	"fmt"
)

// ValidationError reports a request that is malformed or breaks a rule or a
// configured limit. Field is the JSON field at fault ("" for the message as a
// whole); Reason says what is wrong, in lower case.
type ValidationError struct {
	Field  string
	Reason string
	// Err is the sentinel this error is an instance of (ErrFilterName),
	// the cause callers may look into (CheckFilter's *bpfcompile.Error),
	// or nil; errors.Is and errors.As see it through Unwrap.
	Err error
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "invalid request: " + e.Reason
	}
	return "invalid request: " + e.Field + ": " + e.Reason
}

// Unwrap returns Err.
func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Sentinel errors returned by Submit and Cancel; test them with errors.Is.
var (
	// ErrNotForNode means the request names other nodes: it is ignored and
	// no result is published.
	ErrNotForNode = errors.New("agent: request is not for this node")
	// ErrDuplicate means another request holds the id (running, kept for
	// Lookup, or taken within the dedup TTL). The same message again is
	// ignored without a result; a different request is refused with a
	// published rejected result, and the holder's state is kept.
	ErrDuplicate = errors.New("agent: duplicate request id")
	// ErrNotAdmitted means the request did not fit the concurrency or memory
	// budget; it was rejected, not queued.
	ErrNotAdmitted = errors.New("agent: request not admitted")
	// ErrShuttingDown means the agent no longer takes requests.
	ErrShuttingDown = errors.New("agent: shutting down")
	// ErrUnknownID means no running request has the id given to Cancel.
	ErrUnknownID = errors.New("agent: no running request with this id")
	// ErrFilterName is wrapped by the *ValidationError of a filter that
	// names a host, network, port or protocol while Config.NoFilterNames
	// is set.
	ErrFilterName = errors.New("agent: names in filters are turned off")
)

// Sentinel errors of List and LocalFile (GET /v1/captures and its file).
var (
	// ErrBadQuery means a query parameter is invalid (the error names it).
	ErrBadQuery = errors.New("agent: invalid query")
	// ErrNoFile means a capture has no file in the local directory to
	// serve; the error says why (still running, nothing captured,
	// delivered elsewhere only, removed).
	ErrNoFile = errors.New("no local file")
)

// Causes of an early end of a capture, given to context.CancelCauseFunc so
// that the session can tell a Cancel from a Shutdown.
var (
	errCancelled = errors.New("capture cancelled")
	errShutdown  = errors.New("agent shutting down")
)
