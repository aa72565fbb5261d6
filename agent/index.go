package agent

import (
	"encoding/hex"
	"fmt"
	"time"
)

// Index keeps the finished requests and their Results across restarts, so
// that GET /v1/captures and GET /v1/captures/{id} still answer for the
// captures of an earlier process (see WithIndex, LoadIndex and FileIndex).
// The Journal says which captures a process left running; the Index says
// what the finished ones gave.
type Index interface {
	// Put records e, replacing an earlier record of the same request; it
	// returns once the record would survive a crash.
	Put(e IndexEntry) error
	// Entries returns the records kept, oldest first: at start, what
	// earlier processes finished.
	Entries() ([]IndexEntry, error)
}

// IndexEntry is what an Index keeps of a finished request.
type IndexEntry struct {
	ID         string    `json:"id"`
	Source     string    `json:"source,omitempty"`
	Submitted  time.Time `json:"submitted"`
	Interfaces []string  `json:"interfaces,omitempty"`
	Results    []Result  `json:"results"`
	// Spooled[i] is the spool's location of the capture behind Results[i]
	// while the spool owes its delivery ("" otherwise), so that a
	// delivery from the spool after a restart updates that Result.
	Spooled []string `json:"spooled,omitempty"`
	// Digest is the hex SHA-256 of the request message: the request keeps
	// its id after a restart as it did before (the same message again is
	// ignored, another one with that id refused). Empty for a request
	// whose message is unknown (reported at a restart, or made from a
	// spooled capture).
	Digest string `json:"digest,omitempty"`
	// BPF is the request's filter expression.
	BPF string `json:"bpf,omitempty"`
}

// WithIndex keeps every finished request in ix (see Index), and LoadIndex
// reads it back at start.
func WithIndex(ix Index) Option { return func(a *Agent) { a.index = ix } }

// indexEntry is what the Index keeps of r; a.mu is held.
func (r *request) indexEntry() IndexEntry {
	e := IndexEntry{
		ID: r.id, Source: r.source, Submitted: r.submitted,
		Interfaces: append([]string(nil), r.ifaces...),
		Results:    append([]Result{}, r.results...),
		BPF:        r.bpf,
	}
	for _, s := range r.spooled {
		if s != "" {
			e.Spooled = append([]string(nil), r.spooled...)
			break
		}
	}
	if r.digest != (digest{}) {
		e.Digest = hex.EncodeToString(r.digest[:])
	}
	return e
}

// indexPut records r, which is done, in the index. A request that cannot
// be recorded is only logged: it is still known until the process ends.
// Puts are serialized, each taking r's state when it writes, so that an
// older state never replaces a newer one.
func (a *Agent) indexPut(r *request) {
	if a.index == nil {
		return
	}
	a.indexMu.Lock()
	defer a.indexMu.Unlock()
	a.mu.Lock()
	e := r.indexEntry()
	a.mu.Unlock()
	if err := a.index.Put(e); err != nil {
		a.log.Error("finished request not kept in the index: the API forgets it at the next restart", "id", r.id, "error", err)
	}
}

// LoadIndex makes the requests that the index holds from earlier processes
// known again, as finished requests, for Lookup and List (the newest
// Config.KeepRequests of them). Call it once, after New and before
// RecoverJournal and before the agent takes requests. It returns the
// number of requests loaded.
func (a *Agent) LoadIndex() (int, error) {
	if a.index == nil {
		return 0, nil
	}
	es, err := a.index.Entries()
	if err != nil {
		return 0, fmt.Errorf("agent: reading the index: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range es {
		if !ValidID(e.ID) {
			continue
		}
		r := &request{
			id: e.ID, source: e.Source, submitted: e.Submitted, phase: PhaseDone, indexed: true,
			ifaces: e.Interfaces, results: e.Results, spooled: make([]string, len(e.Results)), bpf: e.BPF,
		}
		if r.results == nil {
			r.results = []Result{}
		}
		if len(e.Spooled) == len(e.Results) {
			copy(r.spooled, e.Spooled)
		}
		if b, err := hex.DecodeString(e.Digest); err == nil && len(b) == len(r.digest) {
			copy(r.digest[:], b)
		}
		if old, ok := a.store.get(e.ID); ok && old.phase != PhaseDone {
			continue // never replaces a request of this process
		}
		a.store.add(r)
		n++
	}
	return n, nil
}
