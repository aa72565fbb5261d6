package request

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
)

// readyTimeout bounds the wait for the results subscription.
const readyTimeout = 15 * time.Second

// heartbeat is how often the status is repeated on a stderr that is not a
// terminal, when nothing changed.
const heartbeat = 10 * time.Second

// waiter collects the result events of one request, decides when every
// expected one is in, and shows the progress on stderr.
type waiter struct {
	id       string
	start    time.Time
	deadline time.Time
	now      func() time.Time
	stdout   io.Writer
	stderr   io.Writer
	tty      bool

	// What is expected. count > 0: that many results. byState: the HTTP
	// API's state says when the request is done. fleet (from the agents'
	// presence records): each agent named sends its results. Otherwise
	// nodes agents (0: unknown) each send perNode results (0: unknown) or
	// one rejection.
	count, nodes, perNode int
	byState               bool
	fleet                 map[string]*fleetNode

	results   []agent.Result
	perNodeN  map[string]int  // results by node
	rejected  map[string]bool // nodes that rejected the request
	state     *stateEvent     // the HTTP API's view, when reachable
	stateDone bool

	drawn  int             // status lines on the terminal now
	shown  map[string]bool // status lines printed (not a terminal), by key
	lastAt time.Time       // when a status line was last printed

	cancelled bool // Ctrl-C: the request was cancelled
}

// fleetNode is an agent the request is for, as its presence record told.
type fleetNode struct {
	want    int  // results it sends: one per interface, or one rejection
	absent  int  // presence checks in a row that did not find it
	missing bool // gone from presence before all its results came
}

// missingAfter is how many presence checks in a row must miss an agent
// before it is taken for gone: its last results, published before it
// deleted its record at shutdown, may still be on their way.
const missingAfter = 2

// newWaiter returns a waiter for req that gives up after waitTime. count
// is -count (0: none).
func newWaiter(req agent.Request, waitTime time.Duration, count int, now time.Time, stdout, stderr io.Writer, tty bool) *waiter {
	w := &waiter{
		id: req.ID, start: now, deadline: now.Add(waitTime), now: time.Now,
		stdout: stdout, stderr: stderr, tty: tty, count: count,
		perNodeN: map[string]int{}, rejected: map[string]bool{}, shown: map[string]bool{},
	}
	if len(req.Interface) > 0 {
		// The agent captures on each interface named once.
		var seen []string
		for _, in := range req.Interface {
			if !slices.Contains(seen, in) {
				seen = append(seen, in)
			}
		}
		w.perNode = len(seen)
	}
	if req.NodeRE == "" && req.Node != "any" {
		w.nodes = 1 // a node name matches one agent
	}
	return w
}

// expectNodes sets the number of agents expected to answer when it was
// unknown (Redis: the subscribers that got a request for "any" node; SQS:
// the one consumer of the message).
func (w *waiter) expectNodes(n int) {
	if w.nodes == 0 && n > 0 {
		w.nodes = n
	}
}

// expectFleet sets the agents that answer, from their presence records:
// each sends one result per interface in its Expectation, or one
// rejection.
func (w *waiter) expectFleet(es []agent.Expectation) {
	w.fleet = make(map[string]*fleetNode, len(es))
	for _, e := range es {
		w.fleet[e.Node] = &fleetNode{want: max(1, len(e.Interfaces))}
	}
}

// known reports whether the waiter knows when it is complete before the
// deadline.
func (w *waiter) known() bool {
	return w.count > 0 || w.byState || w.fleet != nil || (w.nodes > 0 && w.perNode > 0)
}

// nodeDone reports whether every result of the fleet's agent node is in.
func (w *waiter) nodeDone(node string, f *fleetNode) bool {
	return w.rejected[node] || w.perNodeN[node] >= f.want
}

// pending returns the fleet's agents whose results are not all in (nor
// missing), sorted.
func (w *waiter) pending() []string {
	var out []string
	for node, f := range w.fleet {
		if !f.missing && !w.nodeDone(node, f) {
			out = append(out, node)
		}
	}
	slices.Sort(out)
	return out
}

// missing returns the fleet's agents that went away before all their
// results came, sorted.
func (w *waiter) missing() []string {
	var out []string
	for node, f := range w.fleet {
		if f.missing && !w.nodeDone(node, f) {
			out = append(out, node)
		}
	}
	slices.Sort(out)
	return out
}

// complete reports whether every expected result is in.
func (w *waiter) complete() bool {
	switch {
	case w.count > 0:
		return len(w.results) >= w.count
	case w.byState:
		return w.stateDone && w.state != nil && len(w.results) >= len(w.state.results)
	case w.fleet != nil:
		return len(w.pending()) == 0
	case w.nodes == 0:
		return false
	}
	done := 0
	for node, n := range w.perNodeN {
		if w.rejected[node] || (w.perNode > 0 && n >= w.perNode) {
			done++
		}
	}
	return done >= w.nodes
}

// expected returns how many results are expected, or 0 when unknown.
func (w *waiter) expected() int {
	switch {
	case w.count > 0:
		return w.count
	case w.byState && w.state != nil:
		return max(len(w.state.state.Interfaces), len(w.state.results))
	case w.fleet != nil:
		n := 0
		for _, f := range w.fleet {
			n += f.want
		}
		return n
	case w.nodes > 0 && w.perNode > 0:
		return w.nodes * w.perNode
	}
	return 0
}

// handle takes one event from a listener.
func (w *waiter) handle(ev any) {
	switch e := ev.(type) {
	case resultEvent:
		w.addResult(e)
	case presenceEvent:
		w.checkPresence(e.present)
	case cancelEvent:
		if e.err != nil {
			w.say("cancel of %s not sent: %v", w.id, e.err)
		} else {
			w.say("%s", e.note)
		}
	case stateEvent:
		w.state = &e
		if !e.own {
			// Only the status: the results come from the transport. A
			// single target node is this daemon: its interfaces say how
			// many captures there are.
			if w.perNode == 0 && w.nodes == 1 && len(e.state.Interfaces) > 0 {
				w.perNode = len(e.state.Interfaces)
			}
			break
		}
		w.stateDone = e.state.Phase == agent.PhaseDone
		for _, raw := range e.results[min(len(w.results), len(e.results)):] {
			if re, ok := decodeResult(raw, w.id); ok {
				w.addResult(re)
			}
		}
	}
}

// checkPresence takes a presence check: an agent of the fleet whose
// results are not all in and whose record is gone missingAfter checks in a
// row is missing.
func (w *waiter) checkPresence(present map[string]bool) {
	for node, f := range w.fleet {
		if f.missing || w.nodeDone(node, f) {
			continue
		}
		if present[node] {
			f.absent = 0
			continue
		}
		if f.absent++; f.absent >= missingAfter {
			f.missing = true
			w.say("%s: agent %s is gone (its presence record expired or was deleted) before all its results came", w.id, node)
		}
	}
}

// say prints a line on stderr, above the status.
func (w *waiter) say(format string, args ...any) {
	w.clearStatus()
	fmt.Fprintf(w.stderr, "pcapdaemon request: "+format+"\n", args...)
}

func (w *waiter) addResult(e resultEvent) {
	w.clearStatus()
	fmt.Fprintf(w.stdout, "%s\n", e.raw)
	w.results = append(w.results, e.res)
	w.perNodeN[e.res.Node]++
	if e.res.Status == agent.StatusRejected && e.res.Interface == "" {
		w.rejected[e.res.Node] = true
	}
}

// statusLine is one line of the status: key identifies what it says
// without the times that change every second.
type statusLine struct{ key, text string }

// statusLines describes each capture: the finished ones from their
// results, the running ones from the HTTP API's state, and, until every
// expected result is in, the wait itself.
func (w *waiter) statusLines() []statusLine {
	elapsed := w.now().Sub(w.start).Round(time.Second)
	var lines []statusLine
	reported := map[string]bool{}
	for _, r := range w.results {
		where := r.Node
		if r.Interface != "" {
			where += " " + r.Interface
			reported[r.Interface] = true
		}
		l := fmt.Sprintf("%s %s: %s, %d packets, %d bytes", w.id, where, r.Status, r.Packets, r.Bytes)
		if r.StopReason != "" {
			l += ", stopped by " + string(r.StopReason)
		}
		if r.Error != "" {
			l += ": " + r.Error
		}
		lines = append(lines, statusLine{l, l})
	}
	if w.state != nil && w.state.state.Phase != agent.PhaseDone {
		for _, in := range w.state.state.Interfaces {
			if !reported[in] {
				l := fmt.Sprintf("%s %s: %s", w.id, in, w.state.state.Phase)
				lines = append(lines, statusLine{l, fmt.Sprintf("%s, %s", l, elapsed)})
			}
		}
	}
	if !w.complete() {
		l := fmt.Sprintf("%s: waiting, %d result(s)", w.id, len(w.results))
		if n := w.expected(); n > 0 {
			l = fmt.Sprintf("%s: waiting, %d of %d result(s)", w.id, len(w.results), n)
		}
		if p := w.pending(); len(p) > 0 && len(p) <= maxNamed {
			l += " from " + strings.Join(p, ", ")
		}
		left := max(0, w.deadline.Sub(w.now())).Round(time.Second)
		lines = append(lines, statusLine{l, fmt.Sprintf("%s, %s (gives up in %s)", l, elapsed, left)})
	}
	return lines
}

// showStatus draws the status: redrawn in place on a terminal; else the
// lines that say something new are printed, and the waiting line again
// every heartbeat (tick true: called by the ticker).
func (w *waiter) showStatus(tick bool) {
	lines := w.statusLines()
	if w.tty {
		w.clearStatus()
		for _, l := range lines {
			fmt.Fprintln(w.stderr, l.text)
		}
		w.drawn = len(lines)
		return
	}
	now := w.now()
	printed := false
	for i, l := range lines {
		again := tick && i == len(lines)-1 && !w.complete() && now.Sub(w.lastAt) >= heartbeat
		if !w.shown[l.key] || again {
			w.shown[l.key] = true
			fmt.Fprintf(w.stderr, "pcapdaemon request: %s\n", l.text)
			printed = true
		}
	}
	if printed {
		w.lastAt = now
	}
}

// clearStatus removes the status lines drawn on a terminal, so that a
// result printed on the same terminal is not mixed with them.
func (w *waiter) clearStatus() {
	if w.tty && w.drawn > 0 {
		fmt.Fprintf(w.stderr, "\x1b[%dA\x1b[J", w.drawn)
		w.drawn = 0
	}
}

// finish prints the summary and returns the exit status.
func (w *waiter) finish(why string) int {
	if w.tty {
		w.clearStatus()
		for _, l := range w.statusLines() {
			fmt.Fprintln(w.stderr, l.key)
		}
	}
	counts := map[agent.Status]int{}
	for _, r := range w.results {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range []agent.Status{agent.StatusOK, agent.StatusEmpty, agent.StatusError, agent.StatusRejected} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	summary := fmt.Sprintf("%s: %d result(s)", w.id, len(w.results))
	if len(parts) > 0 {
		summary += " (" + strings.Join(parts, ", ") + ")"
	}
	code := 0
	if w.cancelled {
		summary += "; cancelled"
	}
	if m := w.missing(); len(m) > 0 {
		summary += fmt.Sprintf("; missing: %s (gone from presence)", namesList(m))
		code = 1
	}
	switch {
	case why != "":
		summary += "; " + why
		code = 1
	case len(w.results) == 0:
		summary += fmt.Sprintf("; none within %s", w.deadline.Sub(w.start).Round(time.Second))
		code = 1
	case w.known() && !w.complete():
		summary += fmt.Sprintf("; %d expected, gave up after %s", w.expected(), w.deadline.Sub(w.start).Round(time.Second))
		code = 1
	}
	if counts[agent.StatusError] > 0 || counts[agent.StatusRejected] > 0 {
		code = 1
	}
	fmt.Fprintf(w.stderr, "pcapdaemon request: %s\n", summary)
	return code
}
