package metrics

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// The outcomes of a request message (label "outcome").
const (
	OutcomeAccepted   = "accepted"
	OutcomeNotForNode = "not_for_node"
	OutcomeDuplicate  = "duplicate"
	OutcomeRejected   = "rejected"
	OutcomeError      = "error"
)

// The reasons of a rejection (label "reason") that do not come from the
// Guard; the Guard's are its transport.Reason names (too_large, unsigned,
// bad_envelope, bad_signature, stale, replay).
const (
	ReasonInvalid      = "invalid"       // a *agent.ValidationError
	ReasonNotAdmitted  = "not_admitted"  // the concurrency or memory budget
	ReasonShuttingDown = "shutting_down" // after SIGTERM
)

// Outcome classifies the error a Submitter returned: the outcome and, for a
// rejection, its reason.
func Outcome(err error) (outcome, reason string) {
	var rej *transport.RejectError
	var ve *agent.ValidationError
	switch {
	case err == nil:
		return OutcomeAccepted, ""
	case errors.Is(err, agent.ErrNotForNode):
		return OutcomeNotForNode, ""
	case errors.Is(err, agent.ErrDuplicate):
		return OutcomeDuplicate, ""
	case errors.As(err, &rej):
		return OutcomeRejected, rej.Reason.String()
	case errors.As(err, &ve):
		return OutcomeRejected, ReasonInvalid
	case errors.Is(err, agent.ErrNotAdmitted):
		return OutcomeRejected, ReasonNotAdmitted
	case errors.Is(err, agent.ErrShuttingDown):
		return OutcomeRejected, ReasonShuttingDown
	}
	return OutcomeError, ""
}

// CountRequests returns a Submitter that counts every message next is
// given, by source and outcome (and the field at fault of an invalid one).
// Put it in front of the Guard so that the Guard's rejections are counted
// by source too.
func (r *Registry) CountRequests(next transport.Submitter) transport.Submitter {
	return transport.SubmitterFunc(func(ctx context.Context, msg []byte, source string) (string, error) {
		id, err := next.Submit(ctx, msg, source)
		outcome, reason := Outcome(err)
		r.requests.WithLabelValues(source, outcome, reason).Inc()
		var ve *agent.ValidationError
		if reason == ReasonInvalid && errors.As(err, &ve) {
			r.invalid.WithLabelValues(source, r.fieldLabel(ve.Field)).Inc()
		}
		return id, err
	})
}

// fieldLabel bounds the label's values to the request's field names: an
// unknown field's name comes from the message, which anyone can fill with
// fresh names to blow up the number of series.
func (r *Registry) fieldLabel(field string) string {
	switch {
	case field == "":
		return "message"
	case r.fields[field]:
		return field
	}
	return "other"
}

// requestFields returns the JSON names of agent.Request's fields.
func requestFields() map[string]bool {
	m := make(map[string]bool)
	t := reflect.TypeFor[agent.Request]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}
