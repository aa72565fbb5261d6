package agent

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// listIDs walks every page of List for state with pages of limit, and
// returns the ids in order and the number of pages.
func listIDs(t *testing.T, a *Agent, state string, limit int) ([]string, int) {
	t.Helper()
	var ids []string
	q := ListQuery{State: state, Limit: limit}
	for pages := 1; ; pages++ {
		p, err := a.List(q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if len(p.Captures) > limit {
			t.Fatalf("page of %d with limit %d", len(p.Captures), limit)
		}
		for _, st := range p.Captures {
			ids = append(ids, st.ID)
		}
		if p.Next == "" {
			return ids, pages
		}
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
		q.Cursor = p.Next
	}
}

// TestList: requests are listed newest first, filtered by state, a page at
// a time; the cursor walks them all once each, also when new requests come
// in between pages; a bad query names its parameter.
func TestList(t *testing.T) {
	ta := newTestAgent(t, Config{})
	ta.host.block["eth1"] = true
	ta.host.scripts["eth0"] = frames(1, 100, time.Millisecond)
	var running, done []string // oldest first
	for i := range 7 {
		ta.clock.advance(time.Second)
		if i%3 == 0 {
			running = append(running, submit(t, ta, fmt.Sprintf(`{"id":"r%d","node":"any","interface":["eth1"]}`, i)))
			continue
		}
		id := submit(t, ta, fmt.Sprintf(`{"id":"d%d","node":"any","interface":["eth0"],"packets":1}`, i))
		if !testenv.WaitFor(5*time.Second, func() bool { st, _ := ta.Lookup(id); return st.Phase == PhaseDone }) {
			t.Fatalf("%s did not finish", id)
		}
		done = append(done, id)
	}
	for _, id := range running {
		if !testenv.WaitFor(5*time.Second, func() bool { _, ok := liveOf(ta.Agent, id, "eth1"); return ok }) {
			t.Fatalf("%s never ran", id)
		}
	}
	rev := func(ids []string) []string {
		out := slices.Clone(ids)
		slices.Reverse(out)
		return out
	}
	all := []string{"r6", "d5", "d4", "r3", "d2", "d1", "r0"}
	for _, tt := range []struct {
		state string
		limit int
		want  []string
		pages int
	}{
		{"", 50, all, 1},
		{"", 2, all, 4},
		{"", 7, all, 1},
		{"", 1, all, 7},
		{"running", 1, rev(running), 3},
		{"running", 2, rev(running), 2},
		{"done", 3, rev(done), 2},
	} {
		got, pages := listIDs(t, ta.Agent, tt.state, tt.limit)
		if !slices.Equal(got, tt.want) || pages != tt.pages {
			t.Errorf("state %q limit %d: %v in %d pages, want %v in %d", tt.state, tt.limit, got, pages, tt.want, tt.pages)
		}
	}

	// A page of running requests shows their live counters.
	p, err := ta.List(ListQuery{State: "running", Limit: 1})
	if err != nil || len(p.Captures) != 1 || len(p.Captures[0].Live) != 1 || p.Captures[0].Live[0].Interface != "eth1" {
		t.Errorf("running page %+v, %v: want r6 with live counters on eth1", p, err)
	}

	// New requests between pages: the walk goes on where it was.
	first, err := ta.List(ListQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	ta.clock.advance(time.Second)
	submit(t, ta, `{"id":"late","node":"any","interface":["eth0"],"packets":1}`)
	rest, err := ta.List(ListQuery{Limit: 50, Cursor: first.Next})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range append(first.Captures, rest.Captures...) {
		got = append(got, st.ID)
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages around a new request: %v, want %v", got, all)
	}
}

func TestListBadQuery(t *testing.T) {
	ta := newTestAgent(t, Config{})
	for _, q := range []ListQuery{
		{State: "pending"},
		{State: "RUNNING"},
		{Limit: MaxListLimit + 1},
		{Limit: -1},
		{Cursor: "not a cursor"},
		{Cursor: "YzEuMTIzLi4u"}, // "c1.123...": an invalid id
	} {
		if _, err := ta.List(q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("List(%+v) = %v, want ErrBadQuery", q, err)
		}
	}
	p, err := ta.List(ListQuery{Limit: MaxListLimit})
	if err != nil || p.Captures == nil || len(p.Captures) != 0 || p.Next != "" {
		t.Errorf("List of nothing = %+v, %v; want an empty page", p, err)
	}
}
