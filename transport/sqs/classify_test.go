package sqs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

func TestAgentClassification(t *testing.T) {
	tests := []struct {
		name               string
		err                error
		permanent, foreign bool
	}{
		{"validation", &agent.ValidationError{Field: "snap", Reason: "too large"}, true, false},
		{"wrapped validation", fmt.Errorf("decode: %w", &agent.ValidationError{Reason: "x"}), true, false},
		{"duplicate", agent.ErrDuplicate, true, false},
		{"not admitted", fmt.Errorf("%w: memory", agent.ErrNotAdmitted), true, false},
		{"guard", &transport.RejectError{Reason: transport.ReasonReplay}, true, false},
		{"wrapped guard", fmt.Errorf("sqs: %w", &transport.RejectError{Reason: transport.ReasonTooLarge}), true, false},
		{"other node", agent.ErrNotForNode, false, true},
		{"shutting down", agent.ErrShuttingDown, false, false},
		{"cancelled", context.Canceled, false, false},
		{"other", errors.New("boom"), false, false},
	}
	for _, tt := range tests {
		if got := AgentPermanent(tt.err); got != tt.permanent {
			t.Errorf("%s: AgentPermanent = %v, want %v", tt.name, got, tt.permanent)
		}
		if got := AgentForeign(tt.err); got != tt.foreign {
			t.Errorf("%s: AgentForeign = %v, want %v", tt.name, got, tt.foreign)
		}
	}
}
