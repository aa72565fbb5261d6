package sqs

import (
	"errors"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// AgentPermanent is the default Config.IsPermanent for the agent's Submit:
// an invalid request (*agent.ValidationError), a request id already taken
// (agent.ErrDuplicate: SQS delivered it twice) and a request that did not
// fit the budget (agent.ErrNotAdmitted: rejected, its result published) are
// settled; delivering them again cannot help.
func AgentPermanent(err error) bool {
	var ve *agent.ValidationError
	return errors.As(err, &ve) || errors.Is(err, agent.ErrDuplicate) || errors.Is(err, agent.ErrNotAdmitted)
}

// AgentForeign is the default Config.IsForeign: agent.ErrNotForNode.
func AgentForeign(err error) bool { return errors.Is(err, agent.ErrNotForNode) }
