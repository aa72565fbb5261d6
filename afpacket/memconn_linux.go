//go:build linux

package afpacket

import "fmt"

// newMemConn implements NewMemConn.
func newMemConn(mem []byte, cfg MemConfig) (*Conn, error) {
	if cfg.BlockSize <= 0 || cfg.BlockSize%16 != 0 || cfg.NumBlocks <= 0 || len(mem) != cfg.BlockSize*cfg.NumBlocks {
		return nil, fmt.Errorf("afpacket: a memory ring of %d blocks of %d bytes does not take %d bytes", cfg.NumBlocks, cfg.BlockSize, len(mem))
	}
	if cfg.BlockSize < bdLen {
		return nil, fmt.Errorf("afpacket: block size %d is below the block descriptor's %d bytes", cfg.BlockSize, bdLen)
	}
	snap := cfg.Snaplen
	if snap <= 0 {
		snap = DefaultSnaplen
	}
	var fr framing
	switch cfg.LinkType {
	case LinkTypeEthernet:
		fr = framingEthernet
	case LinkTypeRaw:
		fr = framingRaw
	case LinkTypeLinuxSLL:
		fr = framingSLL
	case LinkTypeLinuxSLL2:
		fr = framingSLL2
	default:
		return nil, fmt.Errorf("afpacket: link type %d is none a ring yields", cfg.LinkType)
	}
	c := &Conn{h: handle{
		ring: ring{
			mem:       mem,
			blockSize: cfg.BlockSize,
			numBlocks: cfg.NumBlocks,
			walker:    walker{snaplen: snap, framing: fr, loIfindex: cfg.LoopbackIndex},
		},
		addr:     &Addr{Interface: "mem"},
		linkType: cfg.LinkType,
		timeout:  DefaultBlockTimeout,
	}}
	return c, nil
}
