package request

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/transport/redis"
)

// On Redis every agent keeps a presence record (transport/redis): before
// it publishes, -wait reads them and matches the request against them with
// the agent's own rules (agent.Expect), so that it knows whose results to
// wait for, and on which interfaces; while it waits it checks that those
// agents are still there, and calls one missing once its record is gone.

// presenceEvery is how often -wait checks that the agents it waits for
// are still present.
const presenceEvery = 2 * time.Second

// maxNamed is how many agents a line names before "and N more".
const maxNamed = 12

// presenceEvent is a presence check: which of the agents waited for have
// their record.
type presenceEvent struct{ present map[string]bool }

// cancelEvent is the outcome of sending the cancel after a Ctrl-C.
type cancelEvent struct {
	note string
	err  error
}

// fleet is who takes a request, as the agents' presence records tell.
type fleet struct {
	present []redis.Node        // every agent with a record
	expect  []agent.Expectation // those the request is for
	span    time.Duration       // the longest their captures may run
}

// readFleet reads the presence records and matches req against them; def
// is the capture span of an agent that does not give its maximum. A nil
// fleet means that no agent keeps a record: the caller cannot know who
// takes the request.
func readFleet(ctx context.Context, src presenceSource, req agent.Request, def time.Duration) (*fleet, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	nodes, err := src.nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the agents' presence records: %w", err)
	}
	f := &fleet{}
	var infos []agent.NodeInfo
	for _, n := range nodes {
		if n.Err == nil {
			f.present = append(f.present, n)
			infos = append(infos, n.NodeInfo)
		}
	}
	if len(infos) == 0 {
		return nil, nil
	}
	if f.expect, err = agent.Expect(req, infos); err != nil {
		return nil, err
	}
	for i := range infos {
		for _, e := range f.expect {
			if e.Node == infos[i].Node {
				f.span = max(f.span, infos[i].CaptureSpan(req, def))
			}
		}
	}
	return f, nil
}

// describe says whom the request is for and what each will answer.
func (f *fleet) describe(id string) string {
	var parts []string
	results := 0
	for _, e := range f.expect {
		if e.Reject != nil {
			parts = append(parts, fmt.Sprintf("%s (will reject it: %v)", e.Node, e.Reject))
			results++
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", e.Node, strings.Join(e.Interfaces, ", ")))
		results += len(e.Interfaces)
	}
	return fmt.Sprintf("%s: %d of %d agent(s) present take it, %d result(s) expected: %s",
		id, len(f.expect), len(f.present), results, namesList(parts))
}

// noneMatch says that no agent present takes req.
func (f *fleet) noneMatch(req agent.Request) string {
	var names []string
	for _, n := range f.present {
		names = append(names, n.Node)
	}
	who := fmt.Sprintf("node %q", req.Node)
	if req.NodeRE != "" {
		who = fmt.Sprintf("nodere %q", req.NodeRE)
	}
	return fmt.Sprintf("no live agent matches %s (present: %s); not published", who, namesList(names))
}

// names returns the names of the agents the request is for.
func (f *fleet) names() []string {
	out := make([]string, 0, len(f.expect))
	for _, e := range f.expect {
		out = append(out, e.Node)
	}
	return out
}

// namesList joins names with commas, the first maxNamed of them.
func namesList(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxNamed], ", ") + fmt.Sprintf(", and %d more", len(names)-maxNamed)
}

// watchPresence checks every interval, until ctx ends, which of names
// still have their presence record, and delivers it. A check that fails
// (the server away for a moment) is not delivered: no agent is called
// missing for it.
func watchPresence(ctx context.Context, src presenceSource, names []string, interval time.Duration, events chan<- any) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, interval)
		present, err := src.present(cctx, names)
		cancel()
		if err == nil {
			emit(ctx, events, presenceEvent{present: present})
		}
	}
}
