package daemon

import (
	"context"
	"slices"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
	"github.com/pcapdaemon/pcapdaemon/transport/httpapi"
)

// buildLookback opens the look-back rings ([[interface]] lookback) that
// requests with "lookback" draw from. Rings that do not fit
// general.maxmemory, or a lookbackfilter that does not compile for its
// interface, fail the start with the keys named. A ring that cannot open
// (its interface down, no capture privilege) does not: it is logged and
// opened when it can be.
func (d *daemon) buildLookback(context.Context) error {
	if err := fromconfig.CheckLookback(d.cfg); err != nil {
		return err
	}
	d.lookback = agent.NewLookback(fromconfig.LookbackOptions(d.cfg, d.log))
	rings := fromconfig.Lookback(d.cfg)
	if len(rings) == 0 {
		return nil
	}
	if err := d.lookback.Apply(rings); err != nil {
		return fromconfig.LookbackError(d.cfg, err)
	}
	return nil
}

// applyLookback makes the rings those of a reloaded configuration: a ring
// whose settings changed is reopened (its history goes), one no longer
// configured is closed. It checks the memory first, and changes nothing
// when the check or a filter fails.
func applyLookback(lb *agent.Lookback, cfg *config.Config) error {
	if lb == nil {
		return nil
	}
	if err := fromconfig.CheckLookback(cfg); err != nil {
		return err
	}
	if err := lb.Apply(fromconfig.Lookback(cfg)); err != nil {
		return fromconfig.LookbackError(cfg, err)
	}
	return nil
}

// lookbackSpans gives the status page's interfaces the history their
// look-back rings hold; a ring on "any", which the host does not list, is
// added.
func lookbackSpans(ifs []httpapi.InterfaceInfo, rings []agent.LookbackStatus) []httpapi.InterfaceInfo {
	for _, st := range rings {
		i := slices.IndexFunc(ifs, func(in httpapi.InterfaceInfo) bool { return in.Name == st.Interface })
		if i < 0 {
			ifs = append(ifs, httpapi.InterfaceInfo{Name: st.Interface, LinkType: bpfcompile.LinkType(afpacket.LinkTypeLinuxSLL2).String(), DLT: afpacket.LinkTypeLinuxSLL2})
			i = len(ifs) - 1
		}
		ifs[i].Lookback, ifs[i].LookbackBytes = st.Seconds(), st.Bytes
		if !st.Open && ifs[i].Error == "" {
			ifs[i].Error = "look-back ring not open: " + st.Error
		}
	}
	return ifs
}
