package check

import (
	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
	"github.com/pcapdaemon/pcapdaemon/internal/fromconfig"
)

// checkLookback checks the look-back rings as the daemon does when it
// starts, without opening them: their memory (general.maxmemory) and
// their filters, compiled for their interfaces on this host. The error
// is a *config.ProblemsError naming the keys.
func checkLookback(cfg *config.Config) error {
	if err := fromconfig.CheckLookback(cfg); err != nil {
		return err
	}
	if err := agent.NewLookback(agent.LookbackOptions{}).Check(fromconfig.Lookback(cfg)); err != nil {
		return fromconfig.LookbackError(cfg, err)
	}
	return nil
}
