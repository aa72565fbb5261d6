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
	// API's state says when the request is done. Otherwise nodes agents
	// (0: unknown) each send perNode results (0: unknown) or one rejection.
	count, nodes, perNode int
	byState               bool

	results   []agent.Result
	perNodeN  map[string]int  // results by node
	rejected  map[string]bool // nodes that rejected the request
	state     *stateEvent     // the HTTP API's view, when reachable
	stateDone bool

	drawn  int             // status lines on the terminal now
	shown  map[string]bool // status lines printed (not a terminal), by key
	lastAt time.Time       // when a status line was last printed
}

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

// known reports whether the waiter knows when it is complete before the
// deadline.
func (w *waiter) known() bool {
	return w.count > 0 || w.byState || (w.nodes > 0 && w.perNode > 0)
}

// complete reports whether every expected result is in.
func (w *waiter) complete() bool {
	switch {
	case w.count > 0:
		return len(w.results) >= w.count
	case w.byState:
		return w.stateDone && w.state != nil && len(w.results) >= len(w.state.results)
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
