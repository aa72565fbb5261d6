package fromconfig

import (
	"time"

	"github.com/pcapdaemon/pcapdaemon/agent"
	"github.com/pcapdaemon/pcapdaemon/config"
)

// Agent maps [general] and the [[interface]] aliases onto the agent's
// configuration.
func Agent(cfg *config.Config) agent.Config {
	g := cfg.General
	return agent.Config{
		Hostname:       g.Hostname,
		MaxPackets:     g.MaxPackets,
		MaxBytes:       g.MaxBytes,
		MaxTimeout:     g.MaxTimeoutDuration(),
		MaxDuration:    g.MaxDurationDuration(),
		DefaultTimeout: g.DefaultTimeoutDuration(),
		Snaplen:        g.SnapLength,
		MaxSnaplen:     g.MaxSnapLength,
		PacketDebug:    g.PacketDebug,
		Format:         g.Format,
		Aliases:        cfg.Aliases(),
		Promiscuous:    g.Promiscuous,
		MaxConcurrent:  g.MaxConcurrent,
		MaxMemory:      g.MaxMemory,
		ShutdownGrace:  g.ShutdownGraceDuration(),
		RingBytes:      g.RingSize,
		BlockTimeout:   time.Duration(g.BlockTimeout) * time.Millisecond,
		NoFilterNames:  !g.FilterNames,
		MaxLookback:    g.MaxLookbackDuration(),
	}
}
