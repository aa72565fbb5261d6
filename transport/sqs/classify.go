package sqs

import (
	"errors"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// AgentPermanent is the default Config.IsPermanent for the agent's Submit
// behind a transport.Guard: an invalid request (*agent.ValidationError), a
// request id already taken (agent.ErrDuplicate: SQS delivered it twice), a
// request that did not fit the budget (agent.ErrNotAdmitted: rejected, its
// result published) and a message the Guard rejected (transport.ErrRejected:
// too large, badly signed, stale or replayed — a second delivery of a signed
// message is a replay) are settled; delivering them again cannot help.
func AgentPermanent(err error) bool {
	var ve *agent.ValidationError
	return errors.As(err, &ve) || errors.Is(err, agent.ErrDuplicate) || errors.Is(err, agent.ErrNotAdmitted) ||
		errors.Is(err, transport.ErrRejected)
}

// AgentForeign is the default Config.IsForeign: agent.ErrNotForNode.
func AgentForeign(err error) bool { return errors.Is(err, agent.ErrNotForNode) }
