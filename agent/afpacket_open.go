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
