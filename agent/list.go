package agent

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The page sizes of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListQuery selects a page of requests for List (GET /v1/captures).
type ListQuery struct {
	// State is "" (every request), "running" (admitted and not done:
	// pending or running) or "done".
	State string
	// Limit is the most requests on the page: 1 to MaxListLimit, 0 for
	// DefaultListLimit.
	Limit int
	// Cursor is a previous page's Next: the page starts after the last
	// request of that page. Empty for the first page.
	Cursor string
}

// ListPage is one page of List, newest request first.
type ListPage struct {
	Captures []RequestState `json:"captures"` // never null
	// Next is the Cursor of the following page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// listKey orders requests for List: newest submission first, then by id,
// so that the order is total and a cursor stays valid while requests come
// and go.
type listKey struct {
	submitted int64 // ns since the epoch
	id        string
}

// before reports whether k comes before o on the pages (newer first).
func (k listKey) before(o listKey) bool {
	if k.submitted != o.submitted {
		return k.submitted > o.submitted
	}
	return k.id > o.id
}

// cursorPrefix versions the cursor's encoding.
const cursorPrefix = "c1."

// encode makes the opaque cursor of k.
func (k listKey) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(k.submitted, 10) + "." + k.id))
}

// decodeCursor reads a cursor made by encode.
func decodeCursor(c string) (listKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(c) > 256 {
		return listKey{}, fmt.Errorf("%w: cursor %.40q is not one this agent returned as next", ErrBadQuery, c)
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	ns, id, ok2 := strings.Cut(rest, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || !ok2 || err != nil || !ValidID(id) {
		return listKey{}, fmt.Errorf("%w: cursor %.40q is not one this agent returned as next", ErrBadQuery, c)
	}
	return listKey{submitted: n, id: id}, nil
}

// check validates q and fills in its default limit.
func (q *ListQuery) check() (after listKey, hasAfter bool, err error) {
	switch q.State {
	case "", string(PhaseRunning), string(PhaseDone):
	default:
		return after, false, fmt.Errorf("%w: state %.40q: must be %q or %q", ErrBadQuery, q.State, PhaseRunning, PhaseDone)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultListLimit
	case q.Limit < 0 || q.Limit > MaxListLimit:
		return after, false, fmt.Errorf("%w: limit %d: must be 1 to %d", ErrBadQuery, q.Limit, MaxListLimit)
	}
	if q.Cursor == "" {
		return after, false, nil
	}
	after, err = decodeCursor(q.Cursor)
	return after, err == nil, err
}

// matchesState reports whether a request in phase p is selected by state.
func matchesState(state string, p Phase) bool {
	switch state {
	case string(PhaseRunning):
		return p != PhaseDone
	case string(PhaseDone):
		return p == PhaseDone
	}
	return true
}

// List returns a page of the requests the agent knows (running ones, and
// finished ones kept for Lookup: Config.KeepRequests of them, including
// those loaded from the Index at start), newest first, with the live
// counters of running captures. An invalid query returns an error
// matching ErrBadQuery that names the parameter.
func (a *Agent) List(q ListQuery) (ListPage, error) {
	after, hasAfter, err := q.check()
	if err != nil {
		return ListPage{}, err
	}
	type item struct {
		key listKey
		r   *request
	}
	a.mu.Lock()
	items := make([]item, 0, len(a.store.byID))
	for _, r := range a.store.byID {
		k := listKey{submitted: r.submitted.UnixNano(), id: r.id}
		if matchesState(q.State, r.phase) && (!hasAfter || after.before(k)) {
			items = append(items, item{k, r})
		}
	}
	slices.SortFunc(items, func(x, y item) int {
		switch {
		case x.key.before(y.key):
			return -1
		case y.key.before(x.key):
			return 1
		}
		return 0
	})
	page := ListPage{Captures: []RequestState{}}
	if len(items) > q.Limit {
		items = items[:q.Limit]
		page.Next = items[q.Limit-1].key.encode()
	}
	lives := make([][]*liveCounters, len(items))
	for i, it := range items {
		page.Captures = append(page.Captures, it.r.snapshot())
		lives[i] = it.r.running()
	}
	a.mu.Unlock()
	now := a.clock.Now()
	for i := range page.Captures {
		page.Captures[i].Live = readLive(lives[i], now)
	}
	return page, nil
}
