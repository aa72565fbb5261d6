package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/internal/cli/interfaces"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// statusSource answers the status page and GET /v1/agent: the agent as it
// is now (host name, the configuration in force, every interface of the
// host with its aliases and link type), and filter checks by the agent.
type statusSource struct {
	d       *daemon
	started time.Time
}

var errNotStarted = errors.New("the agent is not running yet")

// Agent describes the agent; the interfaces are listed afresh each time,
// as they come and go.
func (s statusSource) Agent() httpapi.AgentInfo {
	d := s.d
	info := httpapi.AgentInfo{Version: d.opts.Version, Started: s.started}
	if d.ag == nil || d.reload == nil { // the page is served once both exist
		return info
	}
	cfg := d.reload.current()
	info.Host = d.ag.Hostname()
	info.Running, _ = d.ag.Running()
	info.Snaplen, info.Format = cfg.General.SnapLength, cfg.General.Format
	list, err := interfaces.List(cfg.Aliases())
	if err != nil {
		info.Interfaces = []httpapi.InterfaceInfo{{Error: err.Error()}}
		return info
	}
	for _, in := range list {
		info.Interfaces = append(info.Interfaces, httpapi.InterfaceInfo{
			Name: in.Name, Aliases: in.Aliases, LinkType: in.LinkType, DLT: in.DLT, Error: in.Error,
		})
	}
	info.Interfaces = lookbackSpans(info.Interfaces, d.lookback.Status())
	return info
}

// CheckFilter compiles a filter as the agent would for a request.
func (s statusSource) CheckFilter(ctx context.Context, expr, iface string, snap int64) (agent.FilterCheck, error) {
	if s.d.ag == nil {
		return agent.FilterCheck{}, errNotStarted
	}
	return s.d.ag.CheckFilter(ctx, expr, iface, snap)
}
