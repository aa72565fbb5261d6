package agent

import (
	"fmt"
	"log/slog"
	"time"
)

// claimState says whether a request id is free for a message.
type claimState int

const (
	idFree         claimState = iota
	idSameMessage             // the same message took it: a redelivery
	idOtherRequest            // a different request holds it
)

// claimError is admit's answer for an id taken while the plan was made.
type claimError struct{ claim claimState }

func (e *claimError) Error() string { return ErrDuplicate.Error() }
func (e *claimError) Unwrap() error { return ErrDuplicate }

// claim tells whether id is free for the message whose digest is sum.
func (a *Agent) claim(id string, sum digest) claimState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.claimLocked(id, sum, a.clock.Now())
}

// claimLocked is claim with a.mu held. An id is held by a request that was
// admitted, for as long as it is stored (running, or finished and kept for
// Lookup) or remembered by the dedup set.
func (a *Agent) claimLocked(id string, sum digest, now time.Time) claimState {
	held := func(d digest) claimState {
		if d == sum {
			return idSameMessage
		}
		return idOtherRequest
	}
	if r, ok := a.store.get(id); ok && r.holdsID() {
		return held(r.digest)
	}
	if d, ok := a.seen.seen(id, now); ok {
		return held(d)
	}
	return idFree
}

// duplicate answers a message whose id is held. The same message again is
// a redelivery (SQS delivers at least once): it is ignored without a
// Result. A different request (req) is refused with a rejected Result
// (echoing req's alertid, tags and customer), published
// so that its sender learns it, but not stored: the request that holds the
// id keeps its state and results for Lookup.
func (a *Agent) duplicate(log *slog.Logger, id string, req *Request, c claimState) error {
	if c == idSameMessage {
		log.Info("ignoring a request id taken recently: the same message again")
		a.bump(&a.count.duplicates)
		return fmt.Errorf("%w: %q was taken by the same message", ErrDuplicate, id)
	}
	err := fmt.Errorf("%w: %q belongs to another request on this node, which is kept; send this one with another id", ErrDuplicate, id)
	log.Warn("capture request rejected: its id belongs to another request", "error", err)
	now := a.clock.Now()
	a.mu.Lock()
	a.count.duplicates++
	res := a.rejectedLocked(id, now, err)
	echo(&res, req)
	a.mu.Unlock()
	a.enqueue(res)
	return err
}
