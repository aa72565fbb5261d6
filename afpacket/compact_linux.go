//go:build linux

package afpacket

import "golang.org/x/sys/unix"

// This file turns a kept block into file records in place (Compact), or
// says what that would write without doing it (Measure).
//
// A frame's place in the ring is its tpacket3_hdr and sockaddr_ll (68
// bytes), room up to tp_mac (at least 68 bytes from the header, see
// tpacket_rcv), and the frame; its record is the format's head, the frame
// with its cooked header (at most 20 bytes) or VLAN tag (4) put back, and
// the format's padding and tail. With at most MaxRecordOverhead bytes of
// head, padding and tail, a record is never longer than the place of the
// frame it comes from, so records written one after the other from the
// start of the block trail the frames they are made of: the write cursor
// never passes the ring header of the frame being read. Per frame, the
// header fields are read first, then the frame is moved (every byte to the
// same or a lower address, front to back), then the record's head and
// tail are written over what was the ring header.

// compactor is one Measure or Compact of a block.
type compactor struct {
	w    *walker
	blk  []byte
	f    RecordFormat
	lim  Limits
	snap int // the smaller of the Conn's and the format's snap length
}

// measure implements Conn.Measure.
func (h *handle) measure(b Block, f RecordFormat, lim Limits) Count {
	if h.mem == nil {
		return Count{}
	}
	c := h.compactor(b, f, lim)
	_, n := c.run(false)
	return n
}

// compact implements Conn.Compact.
func (h *handle) compact(b Block, f RecordFormat, lim Limits) ([]byte, Count) {
	if h.mem == nil {
		return nil, Count{}
	}
	c := h.compactor(b, f, lim)
	return c.run(true)
}

func (h *handle) compactor(b Block, f RecordFormat, lim Limits) compactor {
	if f.Head < 0 || f.Tail < 0 || f.Align < 1 || f.Head+f.Align-1+f.Tail > MaxRecordOverhead {
		panic("afpacket: RecordFormat exceeds MaxRecordOverhead")
	}
	snap := h.snaplen
	if f.Snaplen > 0 && f.Snaplen < snap {
		snap = f.Snaplen
	}
	return compactor{w: &h.walker, blk: h.block(b.index), f: f, lim: lim, snap: snap}
}

// frame is what a record needs to know of one ring frame, read from its
// headers before anything of it is moved.
type frame struct {
	ts        int64
	start     int // offset of the frame's data in the block
	snap      int // tp_snaplen: the data's length
	n         int // bytes of the record's frame (header, tag, data; cut)
	wire      int
	tag       bool // a VLAN tag goes back in at the framing's tag offset
	tpid, tci uint16
	hdr       [sll2HeaderLen]byte // the cooked header, framing.headerLen() bytes
}

// run walks the block's frames. With move set it writes their records
// from the end of the block descriptor on and returns them; without, it
// only counts them. Both stop at the same frame: the one that reaches a
// limit, or before a corrupt one.
func (c *compactor) run(move bool) ([]byte, Count) {
	var (
		b    = c.blk
		fr   = c.w.framing
		hl   = fr.headerLen()
		at   = fr.tagOffset()
		cnt  Count
		out  = bdLen // the write cursor: where the next record starts
		left = int(ne.Uint32(b[bdNumPkts:]))
		off  = int(ne.Uint32(b[bdFirstPkt:]))
		fm   frame
	)
	if off < bdLen || off > len(b) {
		left = 0
	}
	for ; left > 0; left-- {
		if off > len(b)-sllEnd {
			break
		}
		h := b[off : off+sllEnd]
		next := int(ne.Uint32(h[thNextOffset:]))
		limit := len(b) // where this record must end: the next frame's header
		if next > 0 {
			limit = min(limit, off+next)
		} else {
			left = 1 // the last frame
		}
		pkttype := h[sllPkttype]
		if pkttype == unix.PACKET_OUTGOING && c.w.loIfindex != 0 && int(int32(ne.Uint32(h[sllIfindex:]))) == c.w.loIfindex {
			off += next
			continue
		}
		fm.start = off + int(ne.Uint16(h[thMac:]))
		fm.snap = int(ne.Uint32(h[thSnaplen:]))
		end := fm.start + fm.snap
		if end > len(b) || end < fm.start {
			break
		}
		status := ne.Uint32(h[thStatus:])
		fm.ts = int64(ne.Uint32(h[thSec:]))*1e9 + int64(ne.Uint32(h[thNsec:]))
		if fm.ts < c.lim.Start {
			off += next
			continue
		}
		if c.lim.End != 0 && fm.ts >= c.lim.End {
			// The capture ended before this frame: neither it nor those
			// after it are kept.
			cnt.Reached = LimitEnd
			break
		}
		full := hl + fm.snap
		fm.tag = status&unix.TP_STATUS_VLAN_VALID != 0 && at >= 0 && full >= at
		wire := int(ne.Uint32(h[thLen:])) + hl
		if fm.tag {
			fm.tpid = ne.Uint16(h[thVLANTPID:])
			if fm.tpid == 0 && status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
				fm.tpid = unix.ETH_P_8021Q // kernels before 4.0 did not say
			}
			fm.tci = uint16(ne.Uint32(h[thVLANTCI:]))
			full += vlanTagLen
			wire += vlanTagLen
		}
		// As ReadPacket cuts to the Conn's snap length and raises the wire
		// length to what it keeps, then the writer cuts to its own.
		fm.n = min(full, c.w.snaplen)
		fm.wire = max(wire, fm.n)
		fm.n = min(fm.n, c.snap)
		size := c.f.Head + (fm.n+c.f.Align-1)/c.f.Align*c.f.Align + c.f.Tail
		// The record must not reach the ring header of the next frame, and
		// what goes in front of the data must not overtake it (see the
		// file comment): for frames the kernel wrote, both always hold.
		tagLen := 0
		if fm.tag {
			tagLen = vlanTagLen
		}
		if out+size > limit || out+c.f.Head+hl+tagLen > fm.start {
			break
		}
		if move {
			if hl > 0 {
				fr.putHeader(fm.hdr[:hl], h)
			}
			c.place(out, &fm, hl, at)
		}
		out += size
		cnt.Frames++
		cnt.Bytes += int64(size)
		cnt.Last = fm.ts
		switch {
		case c.lim.Frames > 0 && cnt.Frames >= c.lim.Frames:
			cnt.Reached = LimitFrames
		case c.lim.Bytes > 0 && cnt.Bytes >= c.lim.Bytes:
			cnt.Reached = LimitBytes
		}
		if cnt.Reached != LimitNone {
			break
		}
		off += next
	}
	if !move {
		return nil, cnt
	}
	return b[bdLen:out], cnt
}

// place writes the record of fm at out: the frame (cooked header, data
// with the tag put back, cut to fm.n) after the format's head, then the
// head and the tail. Every byte goes to the same or a lower address than
// the one it comes from, front to back, so copy (a memmove) never reads
// what it wrote.
func (c *compactor) place(out int, fm *frame, hl, at int) {
	b := c.blk
	dst := out + c.f.Head
	src := b[fm.start : fm.start+fm.snap]
	n := fm.n
	size := c.f.Head + (n+c.f.Align-1)/c.f.Align*c.f.Align + c.f.Tail
	if hl == 0 && !fm.tag { // the frame as it is, cut: one move
		copy(b[dst:dst+n], src[:n])
		c.f.Put(b[out:out+size:out+size], fm.ts, n, fm.wire)
		return
	}
	// put copies bytes [i, j) of the frame without the tag (header, then
	// data) to dst+k, cut at n.
	put := func(i, j, k int) {
		for i < j && k < n {
			var seg []byte
			if i < hl {
				seg = fm.hdr[i:min(j, hl)]
			} else {
				seg = src[i-hl : j-hl]
			}
			m := copy(b[dst+k:dst+n], seg)
			i += m
			k += m
		}
	}
	total := hl + fm.snap
	if fm.tag {
		put(0, at, 0)
		if at < n {
			var t [vlanTagLen]byte
			putTag(t[:], fm.tpid, fm.tci)
			copy(b[dst+at:dst+n], t[:])
		}
		put(at, total, at+vlanTagLen)
	} else {
		put(0, total, 0)
	}
	c.f.Put(b[out:out+size:out+size], fm.ts, n, fm.wire)
}

// walk implements Conn.Walk.
func (h *handle) walk(b Block, fn func(*Packet) bool) {
	if h.mem == nil {
		return
	}
	w := h.walker // a copy: the walk's own cursor, the Conn's settings
	w.match = nil
	w.start(h.block(b.index))
	var p Packet
	for w.left > 0 {
		if w.next(&p) && !fn(&p) {
			break
		}
	}
	h.scratch = w.scratch // keep what the walk grew
}
