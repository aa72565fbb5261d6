package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A cancel message, {"cancel": "<id>"}, travels on the same channel or
// queue as the requests (signed like them when the transports require it:
// the Guard opens it first) and ends request id's captures on every agent
// that runs it (stop reason cancelled; what they hold is delivered).

// cancelField is the one field of a cancel message.
const cancelField = "cancel"

// Bounds of the cancels kept for requests not (yet) seen.
const (
	earlyCancelTTL  = 5 * time.Minute
	earlyCancelSize = 4096
)

// CancelMessage returns the message that cancels request id on every agent
// that runs it.
func CancelMessage(id string) []byte {
	b, _ := json.Marshal(map[string]string{cancelField: id}) // a map of strings always encodes
	return b
}

// DecodeCancel reports whether msg is a cancel message (a JSON object with
// a "cancel" member) and returns the id it names. A cancel message with
// other members, or whose id is not a valid request id, is a
// *ValidationError (ok is true then too).
func DecodeCancel(msg []byte) (id string, ok bool, err error) {
	// Most messages are requests: only one that names the field is
	// decoded a second time.
	if !bytes.Contains(msg, []byte(`"`+cancelField+`"`)) || len(msg) > MaxMessageSize {
		return "", false, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return "", false, nil
	}
	raw, ok := m[cancelField]
	if !ok {
		return "", false, nil
	}
	for k := range m {
		if k != cancelField {
			return "", true, invalid(printable(k), "a cancel message has only the %q field", cancelField)
		}
	}
	if json.Unmarshal(raw, &id) != nil {
		return "", true, invalid(cancelField, "must be a request id string")
	}
	if !ValidID(id) {
		return "", true, invalid(cancelField, "%.80q does not match [A-Za-z0-9._-]{1,64}", id)
	}
	return id, true, nil
}

// submitCancel carries out a cancel message for id from source. It returns
// nil when this agent ran the request (or was planning it), and an error
// matching both ErrNotForNode and ErrUnknownID when it does not: the
// message was for other agents (an SQS queue of its own deletes it, a
// shared one releases it). Such a cancel is kept for a while, so that a
// request that arrives after its cancel (transports do not keep the order
// of messages) is cancelled as soon as it is admitted.
func (a *Agent) submitCancel(id, source string) error {
	err := a.Cancel(id)
	switch {
	case err == nil:
		a.log.Info("capture request cancelled", "id", id, "source", source)
		return nil
	case errors.Is(err, ErrUnknownID):
		a.mu.Lock()
		a.earlyCancels.add(id, a.clock.Now())
		a.mu.Unlock()
		a.log.Debug("cancel for a request this agent does not run", "id", id, "source", source)
		return fmt.Errorf("%w: %w", ErrNotForNode, err)
	}
	return err
}

// cancelSet remembers request ids cancelled before their request arrived,
// each for ttl, at most size of them (the oldest forgotten first). It is
// not safe for concurrent use: the Agent's mutex guards it.
type cancelSet struct {
	ttl  time.Duration
	size int
	seq  uint64
	at   map[string]cancelEntry
	fifo []cancelEntry // in the order added; an entry whose seq no longer matches at's is stale
}

type cancelEntry struct {
	id  string
	at  time.Time
	seq uint64
}

func newCancelSet(ttl time.Duration, size int) *cancelSet {
	return &cancelSet{ttl: ttl, size: size, at: make(map[string]cancelEntry)}
}

// live reports whether e is the latest entry of its id.
func (s *cancelSet) live(e cancelEntry) bool {
	cur, ok := s.at[e.id]
	return ok && cur.seq == e.seq
}

func (s *cancelSet) expire(now time.Time) {
	for len(s.fifo) > 0 {
		e := s.fifo[0]
		live := s.live(e)
		if live && len(s.at) <= s.size && now.Sub(e.at) < s.ttl {
			break
		}
		if live {
			delete(s.at, e.id)
		}
		s.fifo[0] = cancelEntry{}
		s.fifo = s.fifo[1:]
	}
	if len(s.fifo) > 2*s.size {
		// The same ids cancelled again and again left stale entries
		// behind a live one: drop them.
		live := make([]cancelEntry, 0, len(s.at))
		for _, e := range s.fifo {
			if s.live(e) {
				live = append(live, e)
			}
		}
		s.fifo = live
	} else if cap(s.fifo) > 4*s.size && len(s.fifo) < cap(s.fifo)/2 {
		s.fifo = append([]cancelEntry(nil), s.fifo...)
	}
}

func (s *cancelSet) add(id string, now time.Time) {
	s.seq++
	e := cancelEntry{id: id, at: now, seq: s.seq}
	s.at[id] = e
	s.fifo = append(s.fifo, e)
	s.expire(now)
}

// take reports whether id was cancelled within ttl, and forgets it.
func (s *cancelSet) take(id string, now time.Time) bool {
	s.expire(now)
	_, ok := s.at[id]
	delete(s.at, id) // its fifo entry is stale now, and goes when it reaches the front
	return ok
}
