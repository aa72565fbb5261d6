package afpacket

import (
	"fmt"
	"math"
	"os"
	"time"
)

// maxRingSize bounds the ring (NumBlocks × BlockSize): the kernel takes the
// counts as 32-bit values, and a ring this large is already a mistake.
const maxRingSize = 1 << 31

// frameSize is tp_frame_size. TPACKET_V3 packs frames of any size into a
// block, so the value only has to satisfy the kernel's checks (a multiple of
// 16 that divides the block and holds a header).
const frameSize = 2048

// settings are a Config's values with the defaults applied and checked.
type settings struct {
	snaplen   int
	blockSize int
	numBlocks int
	frameSize int
	timeoutMS uint32
}

// settings applies the defaults to c and checks it. Errors name the field.
func (c Config) settings() (settings, error) {
	s := settings{
		snaplen:   c.Snaplen,
		blockSize: c.BlockSize,
		numBlocks: c.NumBlocks,
		frameSize: frameSize,
	}
	if s.snaplen == 0 {
		s.snaplen = DefaultSnaplen
	}
	if s.snaplen < 0 {
		return s, fmt.Errorf("afpacket: Config.Snaplen %d is negative", c.Snaplen)
	}
	if s.blockSize == 0 {
		s.blockSize = DefaultBlockSize
	}
	if page := os.Getpagesize(); s.blockSize < 0 || s.blockSize%page != 0 {
		return s, fmt.Errorf("afpacket: Config.BlockSize %d is not a positive multiple of the page size %d", c.BlockSize, page)
	}
	if s.blockSize < s.frameSize {
		s.frameSize = s.blockSize
	}
	if s.numBlocks == 0 {
		s.numBlocks = DefaultNumBlocks
	}
	if s.numBlocks < 0 {
		return s, fmt.Errorf("afpacket: Config.NumBlocks %d is negative", c.NumBlocks)
	}
	if s.numBlocks > maxRingSize/s.blockSize {
		return s, fmt.Errorf("afpacket: ring of %d blocks of %d bytes exceeds %d bytes", s.numBlocks, s.blockSize, maxRingSize)
	}
	d := c.BlockTimeout
	if d == 0 {
		d = DefaultBlockTimeout
	}
	if d < 0 {
		return s, fmt.Errorf("afpacket: Config.BlockTimeout %v is negative", c.BlockTimeout)
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxUint32 {
		return s, fmt.Errorf("afpacket: Config.BlockTimeout %v is too long", c.BlockTimeout)
	}
	s.timeoutMS = uint32(ms)
	return s, nil
}
