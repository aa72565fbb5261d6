package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport"
)

// ErrOverloaded is wrapped by the error of a request dropped because the
// transport's queue was full.
var ErrOverloaded = errors.New("redis: request dropped: the agent is overloaded")

// dropReason says why onMessage dropped a message.
type dropReason int

const (
	dropTooLarge dropReason = iota + 1
	dropQueueFull
)

// answerQueue is how many rejected results for dropped messages may wait
// to be published; more are counted and lost (a flood of dropped messages
// must not become a flood of memory or of publishes).
const answerQueue = 64

// answerTimeout bounds the publication of one such result.
const answerTimeout = 10 * time.Second

// maxNodeRELen bounds the "nodere" a dropped message may be matched with,
// as the agent bounds it in a request.
const maxNodeRELen = 1024

// drop counts and logs a message dropped on arrival and, when its first
// bytes name an id and it may be for this node, queues a rejected result
// for it, so that its requester does not wait for ever. It reads at most
// transport.PeekBytes of msg and never copies the rest.
func (t *Transport) drop(msg string, why dropReason) {
	total := t.dropped.Add(1)
	var err error
	switch why {
	case dropTooLarge:
		t.tooLarge.Add(1)
		err = &transport.RejectError{Reason: transport.ReasonTooLarge, Source: Source,
			Detail: fmt.Sprintf("message of %d bytes exceeds the limit of %d bytes ([general] maxmessage); dropped unread", len(msg), t.o.MaxMessage)}
	default:
		err = fmt.Errorf("%w: %d messages (%d bytes) already wait to be submitted, the limit is %d messages or %d bytes; publish it again later",
			ErrOverloaded, len(t.queue), t.queued.Load(), t.o.QueueSize, t.o.QueueBytes)
	}
	p := transport.PeekRequest([]byte(msg[:min(len(msg), transport.PeekBytes)]))
	node := t.node()
	answer := agent.ValidID(p.ID) && mayBeFor(p, node)
	logged, suppressed := t.dropLog.Allow(time.Now())
	if logged {
		t.log.Warn("redis: message dropped", "err", err, "bytes", len(msg), "id", p.ID, "answered", answer,
			"dropped_total", total, "suppressed", suppressed)
	}
	if !answer {
		return
	}
	now := time.Now()
	res := agent.Result{ID: p.ID, Node: node, Status: agent.StatusRejected, Started: now, Ended: now,
		Locations: []string{}, Error: err.Error()}
	select {
	case t.answers <- res:
	default:
		lost := t.answersLost.Add(1)
		if ok, _ := t.dropLog.Allow(now); ok {
			t.log.Warn("redis: rejected result of a dropped message lost: too many wait to be published", "id", p.ID, "lost_total", lost)
		}
	}
}

// answerLoop publishes the rejected results of dropped messages until ctx
// ends.
func (t *Transport) answerLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case res := <-t.answers:
			pctx, cancel := context.WithTimeout(ctx, answerTimeout)
			if err := t.PublishResult(pctx, res); err != nil && ctx.Err() == nil {
				t.log.Warn("redis: rejected result of a dropped message not published", "id", res.ID, "err", err)
			}
			cancel()
		}
	}
}

// node is the name this agent answers to.
func (t *Transport) node() string {
	if t.o.Node != nil {
		if n := t.o.Node(); n != "" {
			return n
		}
	}
	h, _ := os.Hostname()
	return h
}

// mayBeFor reports whether a peeked request may be for node: it names it
// (or "any"), its nodere matches it, or it names no node that could be
// read (as the agent answers an invalid request it cannot place).
func mayBeFor(p transport.Peek, node string) bool {
	if !p.HasNode && !p.HasNodeRE {
		return true
	}
	if p.HasNode && agent.MatchNode(node, p.Node, nil) {
		return true
	}
	if p.HasNodeRE {
		if len(p.NodeRE) > maxNodeRELen {
			return true
		}
		re, err := regexp.Compile(p.NodeRE)
		return err != nil || re.MatchString(node)
	}
	return false
}
