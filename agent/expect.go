package agent

import (
	"regexp"
	"slices"
	"time"
)

// Expectation is what an agent will answer a request with, as its
// NodeInfo tells: one Result per interface in Interfaces, or, when Reject
// is set, one rejected Result saying why.
type Expectation struct {
	Node       string
	Interfaces []string
	Reject     error
}

// Expect matches req against the agents that nodes describe, with the
// agent's own rules (MatchNode, the alias expansion of a request), and
// returns what each agent the request is for will answer, in the order of
// nodes. Only what a NodeInfo carries is checked: the interfaces and
// aliases, and the duration against the agent's maximum; an agent may
// still reject the request for a limit or a filter, with a rejected Result.
func Expect(req Request, nodes []NodeInfo) ([]Expectation, error) {
	var re *regexp.Regexp
	if req.NodeRE != "" {
		var err error
		if re, err = regexp.Compile(req.NodeRE); err != nil {
			return nil, invalid("nodere", "%v", err)
		}
	}
	var out []Expectation
	for i := range nodes {
		n := &nodes[i]
		if !MatchNode(n.Node, req.Node, re) {
			continue
		}
		out = append(out, n.expect(&req))
	}
	return out, nil
}

// expect is Expect for one agent that req is for.
func (n *NodeInfo) expect(req *Request) Expectation {
	e := Expectation{Node: n.Node}
	aliases := map[string][]string{}
	present := map[string]bool{anyInterface: true}
	for _, in := range n.Interfaces {
		for _, a := range in.Aliases {
			aliases[a] = append(aliases[a], in.Name)
		}
		if !in.Absent {
			present[in.Name] = true
		}
	}
	if req.Duration > 0 && n.MaxDuration > 0 && req.Duration > n.MaxDuration {
		e.Reject = invalid("duration", "%d seconds is above the configured maximum %d", req.Duration, n.MaxDuration)
		return e
	}
	targets, err := expandTargets(req, aliases)
	if err != nil {
		e.Reject = err
		return e
	}
	for _, t := range targets {
		if present[t.iface] {
			e.Interfaces = append(e.Interfaces, t.iface)
			continue
		}
		if t.alias != "" {
			e.Reject = invalid("alias", "alias %q names interface %q, which this host does not have", t.alias, t.iface)
		} else {
			e.Reject = invalid(fieldAt("interface", slices.Index(req.Interface, t.iface)), "no interface %q on this host", t.iface)
		}
		e.Interfaces = nil
		return e
	}
	if e.Reject = n.expectLookback(req, targets); e.Reject != nil {
		e.Interfaces = nil
	}
	return e
}

// CaptureSpan is the longest the captures of req may run on the agent n
// describes: req's duration, else the agent's maximum (def when the agent
// did not say).
func (n *NodeInfo) CaptureSpan(req Request, def time.Duration) time.Duration {
	switch {
	case req.Duration > 0:
		return time.Duration(req.Duration) * time.Second
	case n.MaxDuration > 0:
		return time.Duration(n.MaxDuration) * time.Second
	}
	return def
}
