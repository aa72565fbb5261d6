package agent

import (
	"fmt"
	"time"
)

// Journal keeps a durable record of the requests whose captures are
// running, so that a capture interrupted by the end of the process (a
// crash, kill -9, a shutdown past its grace period) gets an error result
// at the next start instead of silence. See WithJournal, RecoverJournal
// and FileJournal.
type Journal interface {
	// Add records a request whose captures start; it returns once the
	// record would survive a crash.
	Add(e JournalEntry) error
	// Remove forgets request id: its results are published.
	Remove(id string) error
	// Entries returns the requests recorded and not removed: at start, the
	// ones an earlier process left running.
	Entries() ([]JournalEntry, error)
}

// JournalEntry is what a Journal keeps of a running request: enough for
// one result per interface capture.
type JournalEntry struct {
	ID         string    `json:"id"`
	Source     string    `json:"source,omitempty"`
	Node       string    `json:"node"`
	Interfaces []string  `json:"interfaces"`
	Submitted  time.Time `json:"submitted"`
	// The request's fields that its Results echo.
	AlertID  int64  `json:"alertid,omitempty"`
	Tags     string `json:"tags,omitempty"`
	Customer string `json:"customer,omitempty"`
}

// WithJournal records every admitted request in j until its results are
// published (see Journal).
func WithJournal(j Journal) Option { return func(a *Agent) { a.journal = j } }

// restartError is the error of a result that RecoverJournal reports.
const restartError = "restart: pcapdaemon stopped while this capture was running " +
	"(a crash, a kill, or a shutdown that ran out of grace time); what it had captured is lost"

// journalAdd records r (admitted, its captures starting) in the journal and
// then lets its results' publishing forget it. A request that cannot be
// recorded still runs: only a crash would lose its result.
func (a *Agent) journalAdd(r *request, node string) {
	if a.journal == nil {
		return
	}
	defer close(r.journaled)
	e := JournalEntry{ID: r.id, Source: r.source, Node: node, Interfaces: r.ifaces, Submitted: r.submitted,
		AlertID: r.plan.req.AlertID, Tags: r.plan.req.Tags, Customer: r.plan.req.Customer}
	if err := a.journal.Add(e); err != nil {
		a.log.Error("request not journaled: if the daemon dies while it runs, its result is lost", "id", r.id, "error", err)
	}
}

// forgetAfter returns what runs once the last result of r is published:
// r goes into the index, then leaves the journal (in that order: a crash
// in between finds it in both, and RecoverJournal publishes its results
// again rather than calling it interrupted). Nil without either.
func (a *Agent) forgetAfter(r *request) func() {
	journaled := a.journal != nil && r.journaled != nil
	if !journaled && a.index == nil {
		return nil
	}
	return func() {
		a.indexPut(r)
		if journaled {
			<-r.journaled // the record is written (or failed) before it is removed
			a.journalRemove(r.id)
		}
	}
}

func (a *Agent) journalRemove(id string) {
	if err := a.journal.Remove(id); err != nil {
		a.log.Error("cannot remove a finished request from the journal; the next start will report it as interrupted",
			"id", id, "error", err)
	}
}

// RecoverJournal reports the requests that the journal holds from an
// earlier process: each of their interface captures gets a Result with
// status error, stop reason restart and an error saying so, kept for
// Lookup (and in the index) and published; then the request leaves the
// journal. A request that the index holds as finished (the process ended
// between the two) has its Results published again instead. Call it once,
// after New and LoadIndex and before the agent takes requests. It returns
// the number of requests reported.
func (a *Agent) RecoverJournal() (int, error) {
	if a.journal == nil {
		return 0, nil
	}
	es, err := a.journal.Entries()
	if err != nil {
		return 0, fmt.Errorf("agent: reading the journal: %w", err)
	}
	now := a.clock.Now()
	for _, e := range es {
		if a.republish(e.ID) {
			continue
		}
		ifaces := e.Interfaces
		if len(ifaces) == 0 {
			ifaces = []string{""}
		}
		results := make([]Result, len(ifaces))
		for i, ifname := range ifaces {
			results[i] = Result{
				ID: e.ID, Node: e.Node, Interface: ifname, Status: StatusError, StopReason: StopRestart,
				Started: e.Submitted, Ended: now, Locations: []string{}, Error: restartError,
				AlertID: e.AlertID, Tags: e.Tags, Customer: e.Customer,
			}
		}
		a.mu.Lock()
		var stored *request
		if _, ok := a.store.get(e.ID); !ok {
			stored = &request{id: e.ID, source: e.Source, submitted: e.Submitted, phase: PhaseDone, ifaces: e.Interfaces,
				results: append([]Result(nil), results...)}
			a.store.add(stored)
		}
		for i := range results {
			a.count.capture(&results[i])
		}
		a.mu.Unlock()
		a.log.Error("capture interrupted by the end of the previous process: reporting it", "id", e.ID,
			"interfaces", e.Interfaces, "submitted", e.Submitted, "source", e.Source)
		if stored != nil {
			a.indexPut(stored)
		}
		for i, res := range results {
			var after func()
			if i == len(results)-1 {
				id := e.ID
				after = func() { a.journalRemove(id) }
			}
			a.enqueueThen(res, after)
		}
	}
	return len(es), nil
}

// republish publishes again the Results of request id when the index holds
// it as finished, and then takes it out of the journal; it reports whether
// it did.
func (a *Agent) republish(id string) bool {
	a.mu.Lock()
	r, ok := a.store.get(id)
	if !ok || !r.indexed || r.phase != PhaseDone || len(r.results) == 0 {
		a.mu.Unlock()
		return false
	}
	results := append([]Result(nil), r.results...)
	a.mu.Unlock()
	a.log.Warn("request finished before the previous process ended, its results perhaps unpublished: publishing them again",
		"id", id, "results", len(results))
	for i, res := range results {
		var after func()
		if i == len(results)-1 {
			after = func() { a.journalRemove(id) }
		}
		a.enqueueThen(res, after)
	}
	return true
}
