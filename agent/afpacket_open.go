package agent

import (
	"time"

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
// BlockTimeout) of the handle an agent with c opens for a request that
// takes the configured limits (maxpackets, maxbytes, snap length and
// format), for afpacket.NewPool; requests with other limits get rings of
// their own size (ringSize), which the pool learns as they come. Defaults
// are applied as New applies them.
func RingConfig(c Config) afpacket.Config {
	c = c.withDefaults()
	p := plan{packets: c.MaxPackets, bytes: c.MaxBytes, snaplen: c.Snaplen, format: c.Format}
	return ringGeometry(ringSize(c.RingBytes, maxRing(&c), &p), ringTimeout(c.BlockTimeout))
}

// ringGeometry is the ring part of the afpacket.Config a session opens
// with: whole blocks of ringBlockSize making up ringBytes.
func ringGeometry(ringBytes int64, blockTimeout time.Duration) afpacket.Config {
	return afpacket.Config{
		BlockSize:    ringBlockSize,
		NumBlocks:    int(max(1, ringBytes/ringBlockSize)),
		BlockTimeout: blockTimeout,
	}
}
