package agent

import (
	"context"
	"crypto/sha256"
	"time"
)

// Phase is where a request is in its life.
type Phase string

// The phases of a request.
const (
	PhasePending Phase = "pending" // admitted; its sockets are being opened
	PhaseRunning Phase = "running" // at least one interface is capturing
	PhaseDone    Phase = "done"    // every interface capture has its Result
)

// RequestState is what Lookup tells about a request: its phase, the
// Results of its interface captures so far (for GET /v1/captures/{id}),
// and the live counters of those still running.
type RequestState struct {
	ID         string    `json:"id"`
	Phase      Phase     `json:"state"`
	Source     string    `json:"source,omitempty"`
	Submitted  time.Time `json:"submitted"`
	Interfaces []string  `json:"interfaces,omitempty"`
	// BPF is the request's filter expression, as given.
	BPF     string   `json:"bpf,omitempty"`
	Results []Result `json:"results"` // never null: [] before the first
	// Live has one entry per interface capture whose socket is armed and
	// that has no Result yet.
	Live []Live `json:"live,omitempty"`
}

// request is the agent's record of one admitted (or rejected) request.
type request struct {
	id        string
	source    string
	submitted time.Time
	plan      *plan           // nil for a rejected request
	ctx       context.Context // the captures' context; nil for a rejected request
	cancel    context.CancelCauseFunc
	phase     Phase
	ifaces    []string
	bpf       string // the request's filter expression
	results   []Result
	remaining int // interface captures without a Result yet

	// digest is the SHA-256 of the request message, to tell a message
	// delivered twice (ignored) from another request reusing the id
	// (refused). Zero for a rejected request.
	digest digest
	// spooled[i] is the spool's location of the capture behind results[i]
	// when that Result's error is the delivery the spool took over ("":
	// not spooled); see Redelivered.
	spooled []string
	// early are redeliveries reported before the Result they update.
	early []Redelivery
	// journaled is closed once the request is in the journal (nil without
	// one).
	journaled chan struct{}
	// live are the counters of its interface captures while they run, in
	// the order of plan.captures (nil for a request that never ran here).
	live []*liveCounters
	// indexed: the request was loaded from the Index; it holds its id when
	// it has a digest (an admitted request).
	indexed bool
}

// digest is the SHA-256 of a request message.
type digest [sha256.Size]byte

// holdsID reports whether r keeps its id from other requests: every
// request that was admitted does, for as long as it is stored. A rejected
// request does not, so that a corrected request can take the id.
func (r *request) holdsID() bool { return r.plan != nil || (r.indexed && r.digest != digest{}) }

func (r *request) snapshot() RequestState {
	return RequestState{
		ID:         r.id,
		Phase:      r.phase,
		Source:     r.source,
		Submitted:  r.submitted,
		Interfaces: append([]string(nil), r.ifaces...),
		BPF:        r.bpf,
		Results:    append([]Result{}, r.results...),
	}
}

// liveOf returns the live counters of r's capture on iface (nil if none).
func (r *request) liveOf(iface string) *liveCounters {
	for _, l := range r.live {
		if l.iface == iface {
			return l
		}
	}
	return nil
}

// running returns the live counters of r's captures that have no Result
// yet.
func (r *request) running() []*liveCounters {
	var out []*liveCounters
	for _, l := range r.live {
		done := false
		for i := range r.results {
			if r.results[i].Interface == l.iface {
				done = true
				break
			}
		}
		if !done {
			out = append(out, l)
		}
	}
	return out
}

// requestStore holds the running requests and the last finished ones. It
// is not safe for concurrent use: the Agent's mutex guards it.
type requestStore struct {
	keep int
	byID map[string]*request
	done []*request // finished requests, oldest first
}

func newRequestStore(keep int) *requestStore {
	return &requestStore{keep: keep, byID: make(map[string]*request)}
}

func (s *requestStore) get(id string) (*request, bool) {
	r, ok := s.byID[id]
	return r, ok
}

func (s *requestStore) add(r *request) {
	s.byID[r.id] = r
	if r.phase == PhaseDone {
		s.finished(r)
	}
}

// finished records that r is done and forgets the oldest finished requests
// beyond the bound.
func (s *requestStore) finished(r *request) {
	s.done = append(s.done, r)
	for len(s.done) > s.keep {
		old := s.done[0]
		s.done[0] = nil
		s.done = s.done[1:]
		if s.byID[old.id] == old {
			delete(s.byID, old.id)
		}
	}
	if cap(s.done) > 4*s.keep && len(s.done) < cap(s.done)/2 {
		s.done = append([]*request(nil), s.done...)
	}
}

// idSet remembers request ids for a while (at most size ids, each for ttl),
// with the digest of the message that took each, so that a request
// delivered twice (SQS is at-least-once) is captured once. It is not safe
// for concurrent use.
type idSet struct {
	ttl  time.Duration
	size int
	at   map[string]seenID
	fifo []string // ids in the order added; same order as their times
}

// seenID is when an id was taken, and by which message.
type seenID struct {
	at     time.Time
	digest digest
}

func newIDSet(ttl time.Duration, size int) *idSet {
	return &idSet{ttl: ttl, size: size, at: make(map[string]seenID)}
}

func (s *idSet) expire(now time.Time) {
	for len(s.fifo) > 0 {
		id := s.fifo[0]
		if len(s.fifo) <= s.size && now.Sub(s.at[id].at) < s.ttl {
			break
		}
		delete(s.at, id)
		s.fifo[0] = ""
		s.fifo = s.fifo[1:]
	}
	if cap(s.fifo) > 4*s.size && len(s.fifo) < cap(s.fifo)/2 {
		s.fifo = append([]string(nil), s.fifo...)
	}
}

// seen reports whether id was added less than ttl ago, and the digest of
// the message that took it.
func (s *idSet) seen(id string, now time.Time) (digest, bool) {
	s.expire(now)
	e, ok := s.at[id]
	return e.digest, ok
}

// add remembers id, taken by the message with digest d, from now on.
func (s *idSet) add(id string, d digest, now time.Time) {
	if _, ok := s.at[id]; ok {
		return
	}
	s.at[id] = seenID{at: now, digest: d}
	s.fifo = append(s.fifo, id)
	s.expire(now)
}
