package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Submitter takes one raw request message from a source ("redis", "http",
// "sqs") and returns the request id, or an error saying why it was
// rejected. The agent implements it; the Guard wraps it.
type Submitter interface {
	Submit(ctx context.Context, msg []byte, source string) (id string, err error)
}

// SubmitterFunc adapts a function to Submitter.
type SubmitterFunc func(ctx context.Context, msg []byte, source string) (string, error)

// Submit calls f.
func (f SubmitterFunc) Submit(ctx context.Context, msg []byte, source string) (string, error) {
	return f(ctx, msg, source)
}

// ErrRejected matches every *RejectError with errors.Is.
var ErrRejected = errors.New("request rejected")

// Reason says why the Guard rejected a message.
type Reason int

// The reasons of a RejectError.
const (
	_ Reason = iota
	ReasonTooLarge
	ReasonUnsigned
	ReasonBadEnvelope
	ReasonBadSignature
	ReasonStale
	ReasonReplay
	numReasons
)

// String returns the reason's metric-friendly name ("bad_signature").
func (r Reason) String() string {
	switch r {
	case ReasonTooLarge:
		return "too_large"
	case ReasonUnsigned:
		return "unsigned"
	case ReasonBadEnvelope:
		return "bad_envelope"
	case ReasonBadSignature:
		return "bad_signature"
	case ReasonStale:
		return "stale"
	case ReasonReplay:
		return "replay"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// RejectError is a message the Guard turned away before decoding it.
type RejectError struct {
	Reason Reason
	Source string // the transport it came from
	Detail string // human-readable specifics
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("%s request rejected (%s): %s", e.Source, e.Reason, e.Detail)
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

// HTTPStatus is the status the HTTP API answers with: 413 for a message too
// large, 403 for a signature problem.
func (e *RejectError) HTTPStatus() int {
	if e.Reason == ReasonTooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusForbidden
}
