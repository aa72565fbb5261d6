package agent

import (
	"github.com/pcapdaemon/pcapdaemon/afpacket"
)

// OpenAFPacket is the default Opener: a TPACKET_V3 capture handle from
// afpacket.Open.
func OpenAFPacket(ifname string, cfg afpacket.Config) (Handle, error) {
	c, err := afpacket.Open(ifname, cfg)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return c, nil
}

// PoolOpener returns an Opener that serves opens from p's prepared sockets
// (see afpacket.Pool), which saves the ring setup's wait for an RCU grace
// period on every capture: use it with WithOpener.
func PoolOpener(p *afpacket.Pool) Opener {
	return func(ifname string, cfg afpacket.Config) (Handle, error) {
		c, err := p.Open(ifname, cfg)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return c, nil
	}
}

// RingConfig returns the ring geometry (BlockSize, NumBlocks,
// BlockTimeout) of the handles an agent with c opens, for
// afpacket.NewPool. Defaults are applied as New applies them.
func RingConfig(c Config) afpacket.Config {
	c = c.withDefaults()
	return afpacket.Config{
		BlockSize:    ringBlockSize,
		NumBlocks:    int(max(1, c.RingBytes/ringBlockSize)),
		BlockTimeout: c.BlockTimeout,
	}
}
