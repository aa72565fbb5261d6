package capfile

import (
	"errors"
	"fmt"
	"slices"
)

// This file writes a merged pcapng file: one section header, one interface
// description per interface, every interface's Enhanced Packet Blocks
// merged in timestamp order, and one statistics block per interface.
//
// During the capture each interface writes its EPBs (already carrying its
// interface id, NewEPBWriter) into a Buffer of its own, so that the
// interfaces' captures share no buffer and no lock. When all have ended,
// MergeEPBs copies the blocks into the file's Buffer in timestamp order and
// gives every source chunk back to the pool as soon as its last block has
// been copied: the file's chunks are mostly the sources' chunks reused, and
// the peak memory stays near one copy of the data plus one chunk per
// interface.

// ErrBadEPB reports a source Buffer of MergeEPBs that does not hold whole
// Enhanced Packet Blocks.
var ErrBadEPB = errors.New("not a sequence of enhanced packet blocks")

// epbSource reads the EPBs of one source buffer in order. It owns the
// buffer's chunks and gives each back to the pool once read past.
type epbSource struct {
	pool   *ChunkPool
	chunks [][]byte
	ci, co int   // read position: chunk index and offset in it
	left   int64 // bytes not read yet

	// The head block, valid when ok.
	ok  bool
	ts  int64 // its timestamp, ns since the epoch
	len int   // its length
}

// takeSource takes b's chunks over; b is left empty.
func takeSource(b *Buffer) epbSource {
	s := epbSource{pool: b.pool, chunks: b.chunks, left: b.n}
	b.chunks, b.n, b.off = nil, 0, 0
	return s
}

// peek copies the next len(p) bytes into p without moving on.
func (s *epbSource) peek(p []byte) bool {
	if int64(len(p)) > s.left {
		return false
	}
	ci, co := s.ci, s.co
	for n := 0; n < len(p); ci, co = ci+1, 0 {
		n += copy(p[n:], s.chunks[ci][co:])
	}
	return true
}

// next reads the head block's header: its length and timestamp. At the end
// of the source ok is false.
func (s *epbSource) next() error {
	s.ok = false
	if s.left == 0 {
		return nil
	}
	var h [epbHeadLen]byte
	if !s.peek(h[:]) {
		return fmt.Errorf("%w: %d bytes left, too few for a block header", ErrBadEPB, s.left)
	}
	head := readEPBHead(h[:])
	if head.typ != ngEPB {
		return fmt.Errorf("%w: block type %#x", ErrBadEPB, head.typ)
	}
	if n := head.len; n < epbOverhead || n%4 != 0 || int64(n) > s.left {
		return fmt.Errorf("%w: block length %d with %d bytes left", ErrBadEPB, n, s.left)
	}
	s.ok, s.len, s.ts = true, int(head.len), head.ts
	return nil
}

// copyTo appends the head block to dst and moves on, giving back every
// chunk it leaves behind.
func (s *epbSource) copyTo(dst *Buffer) {
	for rem := s.len; rem > 0; {
		c := s.chunks[s.ci]
		k := min(rem, len(c)-s.co)
		dst.write(c[s.co : s.co+k])
		s.co += k
		s.left -= int64(k)
		rem -= k
		if s.co == len(c) || s.left == 0 {
			s.drop()
		}
	}
}

// drop gives the current chunk back and moves to the next one.
func (s *epbSource) drop() {
	s.pool.put(s.chunks[s.ci : s.ci+1])
	s.chunks[s.ci] = nil
	s.ci++
	s.co = 0
}

// close gives back the chunks not read yet.
func (s *epbSource) close() {
	if s.ci < len(s.chunks) {
		s.pool.put(s.chunks[s.ci:])
		clear(s.chunks[s.ci:])
	}
	s.chunks, s.left, s.ok = nil, 0, false
}

// MergeLimits bounds a merge and lets a caller see its frames.
type MergeLimits struct {
	Packets uint64 // stop after this many blocks
	Bytes   int64  // stop once dst holds this many bytes (the block that crosses it is kept)
	// Visit, when set, sees every block copied: its source's index, time,
	// captured bytes (valid only during the call) and wire length.
	Visit func(src int, ts int64, data []byte, wire int)
}

// MergeCount is what one source contributed to a merge.
type MergeCount struct {
	Packets uint64 // blocks
	Bytes   int64  // their bytes
}

// MergeEPBs appends the Enhanced Packet Blocks of srcs (nil ones are
// empty; NewEPBWriter writes them) to dst in timestamp order, a k-way merge
// of sources that are each in order (as a socket's frames are); equal
// timestamps keep the order of srcs. It stops at the first limit of lim
// (dst's bytes, header included, count), and returns how many blocks and
// bytes each source gave. Every source is consumed, also on error and when
// a limit drops its last blocks, and its chunks go back to the pool as soon
// as they are read, so that dst reuses them; the sources must not be used
// afterwards. A source that does not hold whole blocks fails the merge
// with ErrBadEPB.
func MergeEPBs(dst *Buffer, srcs []*Buffer, lim MergeLimits) ([]MergeCount, error) {
	ss := make([]epbSource, len(srcs))
	defer func() {
		for i := range ss {
			ss[i].close()
		}
	}()
	for i, b := range srcs {
		if b != nil {
			ss[i] = takeSource(b)
		}
	}
	for i := range ss {
		if err := ss[i].next(); err != nil {
			return nil, fmt.Errorf("merging interface %d: %w", i, err)
		}
	}
	counts := make([]MergeCount, len(srcs))
	var total uint64
	var scratch []byte // a block made contiguous for visit
	for total < lim.Packets && dst.Len() < lim.Bytes {
		// The source with the earliest head, and the head that must come
		// after the blocks taken from it (the earliest of the others).
		best, other := -1, -1
		for i := range ss {
			switch {
			case !ss[i].ok:
			case best < 0 || ss[i].ts < ss[best].ts:
				best, other = i, best
			case other < 0 || ss[i].ts < ss[other].ts:
				other = i
			}
		}
		if best < 0 {
			break
		}
		s := &ss[best]
		limit, tieFirst := int64(1<<63-1), true
		if other >= 0 {
			// best keeps the lead on a tie only when it comes first in srcs.
			limit, tieFirst = ss[other].ts, best < other
		}
		// Copy best's run of blocks that come before other's head.
		for s.ok && (s.ts < limit || s.ts == limit && tieFirst) && total < lim.Packets && dst.Len() < lim.Bytes {
			if lim.Visit != nil {
				scratch = s.visit(best, scratch, lim.Visit)
			}
			counts[best].Packets++
			counts[best].Bytes += int64(s.len)
			total++
			s.copyTo(dst)
			if err := s.next(); err != nil {
				return counts, fmt.Errorf("merging interface %d: %w", best, err)
			}
		}
	}
	return counts, nil
}

// visit shows the head block to fn, through scratch (grown as needed and
// returned) when it lies across chunks.
func (s *epbSource) visit(src int, scratch []byte, fn func(int, int64, []byte, int)) []byte {
	b := s.chunks[s.ci][s.co:]
	if len(b) < s.len {
		scratch = slices.Grow(scratch[:0], s.len)[:s.len]
		s.peek(scratch)
		b = scratch
	}
	data, wire := epbFrame(b[:s.len])
	fn(src, s.ts, data, wire)
	return scratch
}
