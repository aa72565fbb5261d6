package agent

import (
	"context"
	"errors"
	"testing"
)

type refusal struct{ field string }

func (r refusal) Error() string        { return r.field + " not allowed" }
func (r refusal) RequestField() string { return r.field }
func (r refusal) Unretryable() bool    { return true }

type checkingSink struct {
	name string
	err  error
}

func (s checkingSink) Name() string                                      { return s.name }
func (s checkingSink) Check(Request) error                               { return s.err }
func (s checkingSink) Deliver(context.Context, *Capture) (string, error) { return "", s.err }

func TestCheckSinks(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sinks     []Sink
		wantField string
	}{
		{"no checker", nil, ""},
		{"accepts", []Sink{checkingSink{name: "s3"}}, ""},
		{"refusal names field", []Sink{checkingSink{name: "s3", err: refusal{"bucket"}}}, "bucket"},
		{"plain error names sink", []Sink{checkingSink{name: "s3", err: errors.New("no")}}, "s3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSinks(tc.sinks, Request{})
			var v *ValidationError
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("checkSinks = %v, want nil", err)
			case tc.wantField != "" && (!errors.As(err, &v) || v.Field != tc.wantField):
				t.Fatalf("checkSinks = %v, want a ValidationError on field %q", err, tc.wantField)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	if retryable(refusal{"bucket"}) {
		t.Error("an Unretryable error was called retryable: it would be spooled and resent forever")
	}
	if !retryable(errors.New("connection reset")) {
		t.Error("a plain error must be retryable")
	}
}
