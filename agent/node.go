package agent

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
)

// NodeInfo describes an agent to the fleet: what a presence record carries
// (transport/redis keeps one per agent), so that "pcapdaemon nodes" can
// list the agents and a requester can tell, before it publishes, which of
// them a request is for and how many results each will send (Expect). The
// JSON names are those of the record.
type NodeInfo struct {
	// Node is the name requests are matched against ([general] hostname,
	// else the kernel's host name).
	Node string `json:"node"`
	// Version is the agent's release; Node leaves it empty for the daemon
	// to fill in.
	Version string `json:"version,omitempty"`
	// Started is when the agent started.
	Started time.Time `json:"started"`
	// Interfaces are the host's interfaces, in the kernel's order, then
	// those that aliases name and the host does not have (Absent).
	Interfaces []NodeInterface `json:"interfaces"`
	// Running are the requests whose captures run now, oldest first.
	Running []RunningRequest `json:"running"`
	// MaxDuration and DefaultTimeout are the configured limits, in
	// seconds: how long a capture without "duration" may run, and the
	// inactivity timeout of one without "timeout".
	MaxDuration    int64 `json:"maxduration"`
	DefaultTimeout int64 `json:"defaulttimeout"`
	// MaxLookback is the most seconds of history a request's "lookback"
	// may ask for (0 from an agent that did not say).
	MaxLookback int64 `json:"maxlookback,omitempty"`
}

// NodeInterface is one interface of a NodeInfo.
type NodeInterface struct {
	Name string `json:"name"`
	// LinkType is tcpdump's name of the link type a capture on it
	// produces (EN10MB, RAW, ...); "" when it could not be told.
	LinkType string `json:"linktype,omitempty"`
	// Aliases are the configured aliases that name it.
	Aliases []string `json:"aliases,omitempty"`
	// Absent is set for an interface an alias names that this host does
	// not have: a request through that alias is rejected.
	Absent bool `json:"absent,omitempty"`
	// Lookback is the history the interface's look-back ring holds; nil
	// while the agent keeps none.
	Lookback *LookbackSpan `json:"lookback,omitempty"`
}

// LookbackSpan is how much history a look-back ring holds.
type LookbackSpan struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// RunningRequest is a request whose captures run.
type RunningRequest struct {
	ID         string    `json:"id"`
	Interfaces []string  `json:"interfaces"`
	Since      time.Time `json:"since"`
	Source     string    `json:"source,omitempty"`
}

// HostInterface is an interface of the host and the pcap link type of a
// capture on it (0 with LinkTypeErr set when it could not be told).
type HostInterface struct {
	Name        string
	LinkType    uint32
	LinkTypeErr error
}

// ListHostInterfaces lists the host's interfaces (net.Interfaces) with the
// link type of each (afpacket.LinkTypeOf): the default of
// WithHostInterfaces.
func ListHostInterfaces() ([]HostInterface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	out := make([]HostInterface, 0, len(ifs))
	for _, ifi := range ifs {
		lt, err := afpacket.LinkTypeOf(ifi.Name)
		out = append(out, HostInterface{Name: ifi.Name, LinkType: lt, LinkTypeErr: err})
	}
	return out, nil
}

// WithHostInterfaces sets how Node lists the host's interfaces (default:
// ListHostInterfaces).
func WithHostInterfaces(f func() ([]HostInterface, error)) Option {
	return func(a *Agent) { a.hostIfaces = f }
}

// Node describes this agent now: its name, interfaces with their aliases
// and link types, running requests and limits. Version is left for the
// caller. An interface list that cannot be read leaves only the aliases'
// interfaces, marked absent: a requester then expects rejections, and the
// agent's own answers put that right.
func (a *Agent) Node() NodeInfo {
	a.mu.Lock()
	cfg := a.cfg
	var running []RunningRequest
	for _, r := range a.store.byID {
		if r.phase != PhaseDone && r.plan != nil {
			running = append(running, RunningRequest{ID: r.id, Interfaces: slices.Clone(r.ifaces), Since: r.submitted, Source: r.source})
		}
	}
	a.mu.Unlock()
	slices.SortFunc(running, func(x, y RunningRequest) int {
		return cmp.Or(x.Since.Compare(y.Since), cmp.Compare(x.ID, y.ID))
	})
	if running == nil {
		running = []RunningRequest{}
	}
	host, err := a.hostIfaces()
	if err != nil {
		// Every refresh asks again: Debug, not to log it every 10s.
		a.log.Debug("cannot list the interfaces for the presence record", "error", err)
	}
	return NodeInfo{
		Node:           cfg.Hostname,
		Started:        a.started,
		Interfaces:     withLookback(nodeInterfaces(host, cfg.Aliases), a.lookback.Status()),
		Running:        running,
		MaxDuration:    int64(cfg.MaxDuration / time.Second),
		DefaultTimeout: int64(cfg.DefaultTimeout / time.Second),
		MaxLookback:    int64(cfg.MaxLookback / time.Second),
	}
}

// anyInterface is the pseudo-interface that captures on all of them.
const anyInterface = "any"

// nodeInterfaces joins the host's interfaces and the aliases that name
// them; an interface an alias names and the host lacks comes last, absent.
func nodeInterfaces(host []HostInterface, aliases map[string][]string) []NodeInterface {
	names := slices.Sorted(maps.Keys(aliases))
	byIface := map[string][]string{}
	var named []string // interfaces the aliases name, in the order first named
	for _, alias := range names {
		for _, in := range aliases[alias] {
			if _, ok := byIface[in]; !ok {
				named = append(named, in)
			}
			byIface[in] = append(byIface[in], alias)
		}
	}
	out := make([]NodeInterface, 0, len(host)+len(named))
	seen := map[string]bool{}
	for _, h := range host {
		ni := NodeInterface{Name: h.Name, Aliases: byIface[h.Name]}
		if h.LinkTypeErr == nil {
			ni.LinkType = bpfcompile.LinkType(h.LinkType).String()
		}
		seen[h.Name] = true
		out = append(out, ni)
	}
	for _, in := range named {
		if !seen[in] {
			// "any", the pseudo-interface of every host, is never absent.
			out = append(out, NodeInterface{Name: in, Aliases: byIface[in], Absent: in != anyInterface})
		}
	}
	return out
}
