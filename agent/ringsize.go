package agent

import (
	"math/bits"

	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// This file sizes a capture's receive ring. On the ring path the ring is
// the capture's buffer: a ring that holds the whole file spares the copy
// of every frame into fresh memory, which is most of what capturing large
// frames costs. The kernel allocates (and zeroes) the ring when the socket
// is set up, before the capture, or a pool of prepared sockets does it
// ahead of time.

// maxRingBytes is the largest ring a capture gets: the kernel allocates a
// ring at once, and 1 GiB takes a second or more on a VM whose memory the
// host must back first.
const maxRingBytes = 1 << 30

// ringFrame is the frame size a ring is sized for when the snap length
// allows more: a full 1500-byte MTU on Ethernet. Larger frames (GRO, jumbo
// MTUs) fill the ring sooner; what it has no room for is kept in chunk
// memory all the same.
const ringFrame = 1514

// maxRing returns the largest ring of an agent with cfg: a quarter of the
// memory budget, at most maxRingBytes, at least cfg.RingBytes.
func maxRing(cfg *Config) int64 {
	return max(cfg.RingBytes, min(maxRingBytes, cfg.MaxMemory/4))
}

// ringSize returns the bytes of the receive ring of a capture of p: room
// for its whole file (fileBound) when the frames are of ringFrame bytes or
// the snap length if smaller, as the kernel lays them out in blocks of
// ringBlockSize, plus two blocks the kernel may fill while older ones are
// being given back; at least minRing and at most maxRing bytes, in whole
// blocks of a few sizes (four significant bits), so that rings prepared
// ahead of time serve many requests.
func ringSize(minRing, maxRing int64, p *plan) int64 {
	f := int64(min(p.snaplen, ringFrame))
	rec := 16 + f // pcap
	if p.format == FormatPcapNG {
		rec = 32 + (f+3)&^3
	}
	// A frame's place in a block: tpacket3_hdr, sockaddr_ll and room up
	// to tp_mac (82 bytes before an Ethernet header), aligned to 8.
	place := (82 + f + 7) &^ 7
	perBlock := (ringBlockSize - 48) / place * rec // file bytes one block holds
	need := fileBound(p)
	if p.packets < need/rec {
		need = min(need, p.packets*rec+capfile.MaxFileOverhead) // packets of ringFrame bytes at most
	}
	maxBlocks := max(1, maxRing/ringBlockSize)
	blocks := maxBlocks
	if need/perBlock < maxBlocks {
		blocks = min(maxBlocks, quantize((need+perBlock-1)/perBlock+2))
	}
	return max(blocks*ringBlockSize, (minRing+ringBlockSize-1)/ringBlockSize*ringBlockSize)
}

// shrinkRing returns the largest ring of the sizes ringSize gives, no
// larger than avail bytes, or 0 when even minRing does not fit.
func shrinkRing(minRing, avail int64) int64 {
	minRing = (minRing + ringBlockSize - 1) / ringBlockSize * ringBlockSize
	if avail < minRing {
		return 0
	}
	blocks := avail / ringBlockSize
	if blocks > 16 {
		shift := bits.Len64(uint64(blocks)) - 4
		blocks &^= int64(1)<<shift - 1
	}
	return max(minRing, blocks*ringBlockSize)
}

// quantize rounds n up to a number with at most four significant bits: at
// most 12.5% more, and few distinct values.
func quantize(n int64) int64 {
	if n <= 16 {
		return n
	}
	shift := bits.Len64(uint64(n)) - 4
	step := int64(1) << shift
	return (n + step - 1) &^ (step - 1)
}
