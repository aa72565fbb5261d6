package agent

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcapdaemon/pcapdaemon/afpacket"
	"github.com/pcapdaemon/pcapdaemon/agent/capfile"
)

// This file is the ring path's capture buffer: the frames stay in the
// blocks of the receive ring where the kernel wrote them, and the file is
// made of those blocks, rewritten in place into records, when the capture
// ends (see ringBuffer).

// ringKeeper is what the ring path needs of a capture handle: an
// *afpacket.Conn read by keeping its blocks (afpacket.Conn.Keep).
type ringKeeper interface {
	Keep(dst []afpacket.Block) ([]afpacket.Block, error)
	Release(n int)
	Kept() int
	Blocks() int
	Filling() int
	SkipsFrames() bool
	Measure(b afpacket.Block, f afpacket.RecordFormat, lim afpacket.Limits) afpacket.Count
	Compact(b afpacket.Block, f afpacket.RecordFormat, lim afpacket.Limits) ([]byte, afpacket.Count)
	Wait(ctx context.Context, d time.Duration) error
	Stats() (afpacket.Stats, error)
	Stop() error
	Free() error
}

// minRingHead is the room the kernel leaves in front of every frame in a
// ring block: its tpacket3_hdr and sockaddr_ll (TPACKET3_HDRLEN). A
// record is at most this much less its overhead longer than the frame's
// data, which bounds a block's records by its length alone.
const minRingHead = 68

// minTail is the least room at the end of a compacted block worth filling
// with records moved out of an older block.
const minTail = 256

// ringBuffer holds a capture's frames in the kept blocks of its ring.
//
// Capturing costs per block, not per frame: take keeps every block the
// kernel hands over and adds up its descriptor's counters, which bound the
// packets and file bytes it holds (a block's records are never longer
// than its frames' place in the ring). Only when the bounds say a limit
// may be reached does it walk the headers of the blocks it has not
// counted exactly (Measure), to find the frame that reaches it.
//
// When the ring runs short of free blocks, the oldest kept block must go
// back to the kernel (it fills blocks in order). makeRoom rewrites it in
// place into records (Compact, in ring order, which also counts it
// exactly) and moves its records into the room that compacting left at the
// end of newer kept blocks, compacting those as needed: small frames take
// about half of their place in the ring as records, so a ring holds about
// twice the small frames it was filled with. Only what no block has room
// for is copied into chunk memory. The file is the records in file order
// (runs, each in a ring block or a chunk), whatever their place.
//
// finish compacts the rest and assembles the file (a capfile.File that
// borrows the ring's memory: the ring is freed when the file is
// released). Every record is the one the copying path's writer makes of
// the same frame, and the limits trim at the same frame.
type ringBuffer struct {
	k     ringKeeper
	rf    afpacket.RecordFormat
	lim   afpacket.Limits // the records' limits (the byte limit less the file header)
	extra int             // the most a record is longer than its frame's data
	pool  *capfile.ChunkPool
	spill *capfile.Buffer // chunk memory for records no block has room for
	lead  *capfile.Buffer // records that come before the ring's (a look-back part), or nil

	// The kept blocks, oldest first: a FIFO of ring order in q, from
	// q[head], n of them. Blocks get ids counting up from 1.
	q       []ringBlock
	head, n int
	nextID  uint64

	measured  int // blocks of the FIFO, from the oldest, counted exactly
	compacted int // of which compacted: always a prefix of the measured

	// Exact counts of the measured blocks (the ones given back included)
	// and of the compacted ones alone; upper bounds of the rest.
	frames, bytes   int64
	cFrames, cBytes int64
	hiFrames        int64
	hiBytes         int64
	hiLast          int64 // newest frame time of the blocks not measured

	reached afpacket.Limit // the limit a counted frame reached, if any
	cutID   uint64         // the block holding that frame: later ones are not in the file

	// The kernel's drop counter as the loop last read it (noteDrops),
	// and what the block holding the frame that reached a limit says of
	// the drops before it (see cutDrops).
	drops      uint64
	cutDropped uint64 // drops read before that block was handed over, or after when it is Losing
	cutAfter   bool   // cutDropped is to be read after the block's take: not known yet
	last       int64  // newest frame time of any block (ns), 0 before the first

	// Smoothed upper bounds of the frames and record bytes of the blocks
	// that come in, and what the blocks counted exactly held of their
	// bounds, for blocksToLimit.
	avgFrames, avgBytes       float64
	exactBytes, exactBound    int64
	exactFrames, exactPackets int64

	runs    []ringRun // the records of compacted blocks, in file order
	runsTmp []ringRun
	taken   []afpacket.Block
	spilled int64 // bytes copied into chunk memory
	moved   int64 // bytes moved into the room of other blocks

	// emit, when set, is given each run of records compacted, in file
	// order, as it is appended to runs (finishStream); help, when set, is
	// given the work of compacting the blocks left, for the file's
	// readers to share (capfile.Grower.Help).
	emit func([]byte)
	help func(work func() bool)
}

// ringBlock is one kept block.
type ringBlock struct {
	afpacket.Block
	id        uint64
	cnt       afpacket.Count // exact once measured
	bound     int64          // upper bound of its records' bytes
	compacted bool
	mem       []byte // once compacted: from its records on; mem[:len] used, room to cap

	// The kernel's drop counter read before and after the block was
	// taken (noDrops: not read yet).
	dropsBefore, dropsAfter uint64
}

// noDrops marks a drop count not read yet.
const noDrops = ^uint64(0)

// ringRun is a run of records, in a ring block (at, its id) or in chunk
// memory (at 0).
type ringRun struct {
	p  []byte
	at uint64
}

// newRingBuffer returns the buffer of a capture read from k, writing
// records of rf (which adds at most extra bytes to a frame's data: its
// overhead, a cooked header and a VLAN tag) up to lim, spilling into
// chunks of pool.
func newRingBuffer(k ringKeeper, rf afpacket.RecordFormat, extra int, lim afpacket.Limits, pool *capfile.ChunkPool) *ringBuffer {
	n := k.Blocks()
	return &ringBuffer{
		k: k, rf: rf, extra: extra, lim: lim, pool: pool,
		q:       make([]ringBlock, n),
		nextID:  1,
		runs:    make([]ringRun, 0, 2*n),
		runsTmp: make([]ringRun, 0, 2*n),
		taken:   make([]afpacket.Block, 0, n),
	}
}

// at returns the i-th kept block from the oldest.
func (r *ringBuffer) at(i int) *ringBlock {
	j := r.head + i
	if j >= len(r.q) {
		j -= len(r.q)
	}
	return &r.q[j]
}

// byID returns the kept block with id, which must be kept.
func (r *ringBuffer) byID(id uint64) *ringBlock { return r.at(int(id - r.at(0).id)) }

// take keeps the blocks the kernel handed over since the last call and
// counts them; when the counts may have reached a limit it counts exactly
// to find out. It returns Keep's error (the interface's loss) after
// counting what came before it.
func (r *ringBuffer) take() error {
	got, err := r.k.Keep(r.taken[:0])
	for _, b := range got {
		if r.n == len(r.q) { // cannot happen: Keep keeps at most Blocks
			break
		}
		rb := r.at(r.n)
		*rb = ringBlock{Block: b, id: r.nextID, bound: r.bound(b), dropsBefore: r.drops, dropsAfter: noDrops}
		r.nextID++
		r.n++
		r.hiFrames += int64(b.Packets)
		r.hiBytes += rb.bound
		r.avgFrames = 0.875*r.avgFrames + 0.125*float64(b.Packets)
		r.avgBytes = 0.875*r.avgBytes + 0.125*float64(rb.bound)
		if b.Packets > 0 {
			r.last = max(r.last, b.Last)
			r.hiLast = max(r.hiLast, b.Last)
		}
	}
	if r.reached == afpacket.LimitNone && r.mayReach() {
		r.measure()
	}
	return err
}

// estimate returns the frames and record bytes the kept blocks hold so
// far, for the live counters: exact for the blocks counted, the bounds of
// the others scaled as blocksToLimit scales them.
func (r *ringBuffer) estimate() (frames, bytes int64) {
	ratio := 1.0
	if r.exactBound > 0 {
		ratio = float64(r.exactBytes) / float64(r.exactBound)
	}
	return r.frames + r.hiFrames, r.bytes + int64(float64(r.hiBytes)*ratio)
}

// noteDrops records the kernel's drop counter, read after a take.
func (r *ringBuffer) noteDrops(d uint64) {
	for i := r.n - 1; i >= 0; i-- {
		rb := r.at(i)
		if rb.dropsAfter != noDrops {
			break
		}
		rb.dropsAfter = d
	}
	r.drops = d
	if r.cutAfter {
		r.cutDropped, r.cutAfter = d, false
	}
}

// bound returns an upper bound of the bytes of b's records: each frame's
// record is at most r.extra bytes longer than its data, which is at least
// minRingHead bytes shorter than its place in the ring; the places add up
// to the block's length less its descriptor.
func (r *ringBuffer) bound(b afpacket.Block) int64 {
	const desc = 48
	return max(0, int64(b.Len-desc)+int64(b.Packets)*int64(r.extra-minRingHead))
}

// mayReach reports whether the counts may have reached a limit: the exact
// counts plus the bounds of the blocks not counted exactly.
func (r *ringBuffer) mayReach() bool {
	frames := r.frames + r.hiFrames
	if r.k.SkipsFrames() {
		frames = r.lim.Frames // a block may hold fewer frames than it says
	}
	return r.lim.Frames > 0 && frames >= r.lim.Frames ||
		r.lim.Bytes > 0 && r.bytes+r.hiBytes >= r.lim.Bytes ||
		r.lim.End != 0 && r.hiLast >= r.lim.End
}

// blocksToLimit estimates how many more blocks the kernel fills before a
// packet or byte limit is reached, from the limits left after every kept
// block (at most their bounds: a block holds less) and the blocks that
// came in lately, generously: a capture about to reach its limit needs no
// free blocks for the frames after it. It returns -1 when no limit is
// near enough to say.
func (r *ringBuffer) blocksToLimit() int {
	// The blocks not counted exactly hold what their bounds say times
	// what the blocks counted held of theirs (the bound is tight for large
	// frames, loose for small ones): that is what is left; and blocks to
	// come hold as much. Three blocks more cover the estimate's error: a
	// ring sized for its file then holds it to the last block, where any
	// more room kept free would be copied out.
	est := -1.0
	if r.lim.Frames > 0 && r.avgFrames >= 1 && !r.k.SkipsFrames() {
		ratio := 1.0
		if r.exactPackets > 0 {
			ratio = float64(r.exactFrames) / float64(r.exactPackets)
		}
		left := float64(r.lim.Frames-r.frames) - float64(r.hiFrames)*ratio
		est = max(0, left) / (ratio * r.avgFrames)
	}
	if r.lim.Bytes > 0 && r.avgBytes >= 1 {
		ratio := 1.0
		if r.exactBound > 0 {
			ratio = float64(r.exactBytes) / float64(r.exactBound)
		}
		left := float64(r.lim.Bytes-r.bytes) - float64(r.hiBytes)*ratio
		b := max(0, left) / (ratio * r.avgBytes)
		if est < 0 || b < est {
			est = b
		}
	}
	if est < 0 || est > 1<<20 {
		return -1
	}
	return int(est) + 3
}

// remaining returns the limits left after the measured blocks.
func (r *ringBuffer) remaining(frames, bytes int64) afpacket.Limits {
	lim := afpacket.Limits{End: r.lim.End, Start: r.lim.Start}
	if r.lim.Frames > 0 {
		lim.Frames = r.lim.Frames - frames
	}
	if r.lim.Bytes > 0 {
		lim.Bytes = r.lim.Bytes - bytes
	}
	return lim
}

// measure counts the blocks not counted yet, in order, until one holds the
// frame that reaches a limit.
func (r *ringBuffer) measure() {
	for r.measured < r.n && r.reached == afpacket.LimitNone {
		r.counted(r.at(r.measured), r.k.Measure(r.at(r.measured).Block, r.rf, r.remaining(r.frames, r.bytes)))
	}
}

// counted records the exact count of rb, the first block not measured.
func (r *ringBuffer) counted(rb *ringBlock, cnt afpacket.Count) {
	rb.cnt = cnt
	r.measured++
	r.frames += cnt.Frames
	r.bytes += cnt.Bytes
	if cnt.Reached == afpacket.LimitNone {
		r.exactBytes += cnt.Bytes
		r.exactBound += rb.bound
		r.exactFrames += cnt.Frames
		r.exactPackets += int64(rb.Packets)
	}
	r.hiFrames -= int64(rb.Packets)
	r.hiBytes -= rb.bound
	if r.measured == r.n {
		r.hiLast = 0
	}
	if cnt.Reached != afpacket.LimitNone {
		r.reached, r.cutID = cnt.Reached, rb.id
		// Frames the kernel dropped before this block began made it Losing
		// (until the counter was read); without it, every drop counted
		// since the read before its take came after its frames.
		switch {
		case !rb.Losing:
			r.cutDropped = rb.dropsBefore
		case rb.dropsAfter != noDrops:
			r.cutDropped = rb.dropsAfter
		default:
			r.cutAfter = true
		}
	}
}

// compactNext rewrites the oldest block not compacted yet into records and
// appends them to the runs. It reports false when there is none, or when
// it lies past the frame that reached a limit.
func (r *ringBuffer) compactNext() bool {
	if r.compacted == r.n {
		return false
	}
	rb := r.at(r.compacted)
	if r.reached != afpacket.LimitNone && rb.id > r.cutID {
		return false
	}
	run, cnt := r.k.Compact(rb.Block, r.rf, r.remaining(r.cFrames, r.cBytes))
	r.compactedNext(rb, run, cnt)
	return true
}

// compactedNext records the compaction of rb, the oldest block not
// compacted yet, into run holding cnt.
func (r *ringBuffer) compactedNext(rb *ringBlock, run []byte, cnt afpacket.Count) {
	if r.compacted == r.measured {
		r.counted(rb, cnt)
	}
	r.compacted++
	rb.compacted = true
	rb.mem = run
	r.cFrames += cnt.Frames
	r.cBytes += cnt.Bytes
	if len(run) > 0 {
		r.runs = append(r.runs, ringRun{run, rb.id})
		if r.emit != nil {
			r.emit(run)
		}
	}
}

// compactRest compacts the blocks not compacted yet. When no packet or
// byte limit can be reached in them (their bounds say so), their frames
// do not depend on the blocks before them, and they are compacted by
// several goroutines at once, each block's records taken in order as soon
// as the blocks before it are done: the write-out of a file of small
// frames is mostly this, and writing the first blocks overlaps with
// compacting the last (finishStream). Else one by one, in order
// (compactNext).
func (r *ringBuffer) compactRest() {
	rest := r.n - r.compacted
	workers := min(runtime.GOMAXPROCS(0), 4, rest/2)
	if workers < 2 || r.reached != afpacket.LimitNone ||
		r.lim.Frames > 0 && (r.k.SkipsFrames() || r.frames+r.hiFrames >= r.lim.Frames) ||
		r.lim.Bytes > 0 && r.bytes+r.hiBytes >= r.lim.Bytes {
		for r.compactNext() {
		}
		return
	}
	type compacted struct {
		run  []byte
		cnt  afpacket.Count
		done bool
	}
	out := make([]compacted, rest)
	first := r.compacted
	lim := afpacket.Limits{End: r.lim.End, Start: r.lim.Start}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex // guards out's done flags, finished and the commits below
		finished int        // blocks of out compacted
		allDone  = sync.NewCond(&mu)
		took     int  // blocks of out committed, in order
		end      bool // a committed block ended the file (the duration's end)
	)
	// work compacts the next block no one took yet, and commits the
	// blocks compacted in order; it reports false when every block was
	// taken.
	work := func() bool {
		i := int(next.Add(1) - 1)
		if i >= rest {
			return false
		}
		run, cnt := r.k.Compact(r.at(first+i).Block, r.rf, lim)
		mu.Lock()
		out[i] = compacted{run, cnt, true}
		for ; !end && took < rest && out[took].done; took++ {
			r.compactedNext(r.at(first+took), out[took].run, out[took].cnt)
			// The end of the duration: later frames are not in the file.
			end = out[took].cnt.Reached != afpacket.LimitNone
		}
		finished++
		if finished == rest {
			allDone.Broadcast()
		}
		mu.Unlock()
		return true
	}
	if r.help != nil {
		// A reader of the file that waits for its next part compacts
		// blocks too (capfile.Grower.Help): it takes the place of a
		// worker, so that the goroutines wanting a CPU are no more than
		// there are, and the writer, which the write-out waits for, is
		// not left without one while the workers run.
		r.help(work)
		workers--
	}
	for range workers {
		wg.Go(func() {
			for work() {
			}
		})
	}
	wg.Wait()
	// Every block is taken; a reader may still be compacting the last.
	mu.Lock()
	for finished < rest {
		allDone.Wait()
	}
	mu.Unlock()
}

// free returns the number of ring blocks the kernel may fill.
func (r *ringBuffer) free() int { return r.k.Blocks() - r.n }

// makeRoom gives the oldest kept blocks back until minFree blocks are
// free, keeping their records (see ringBuffer).
func (r *ringBuffer) makeRoom(minFree int) {
	for r.free() < minFree && r.n > 0 {
		old := r.at(0)
		if !old.compacted && !r.compactNext() {
			// Past the frame that reached a limit: nothing of it is kept.
			r.pop()
			continue
		}
		r.relocate(old.id)
		r.pop()
	}
}

// pop gives the oldest kept block back to the kernel.
func (r *ringBuffer) pop() {
	r.k.Release(1)
	*r.at(0) = ringBlock{}
	r.head++
	if r.head == len(r.q) {
		r.head = 0
	}
	r.n--
	r.measured = max(0, r.measured-1)
	r.compacted = max(0, r.compacted-1)
}

// relocate moves the runs held by block id into the room of newer blocks
// or into chunk memory, keeping their place in the file's order.
func (r *ringBuffer) relocate(id uint64) {
	cur := r.runs
	out := r.runsTmp[:0]
	for _, run := range cur {
		if run.at != id {
			out = append(out, run)
			continue
		}
		for p := run.p; len(p) > 0; {
			room, at := r.room(id)
			if room == nil {
				if r.spill == nil {
					r.spill = capfile.NewBuffer(r.pool)
				}
				for _, q := range r.spill.Append(nil, p) {
					out = append(out, ringRun{q, 0})
				}
				r.spilled += int64(len(p))
				break
			}
			k := copy(room, p)
			tb := r.byID(at)
			tb.mem = tb.mem[:len(tb.mem)+k]
			out = append(out, ringRun{room[:k:k], at})
			r.moved += int64(k)
			p = p[k:]
		}
	}
	// Blocks compacted to make room appended their records to r.runs:
	// they come after every record there was.
	out = append(out, r.runs[len(cur):]...)
	r.runsTmp = r.runs[:0]
	r.runs = out
}

// room returns free room at the end of a compacted block newer than id,
// or nil. Records moved go to the blocks that go back to the kernel last,
// so that they are not moved again soon: the newest compacted block with
// room, else the next block compacted for it, else (every kept block
// compacted) the newest with room.
func (r *ringBuffer) room(id uint64) ([]byte, uint64) {
	newest := r.compacted - 1
	if newest >= 1 {
		if tb := r.at(newest); cap(tb.mem)-len(tb.mem) >= minTail {
			return tb.mem[len(tb.mem):cap(tb.mem)], tb.id
		}
	}
	for r.compactNext() {
		if tb := r.at(r.compacted - 1); tb.id > id && cap(tb.mem)-len(tb.mem) >= minTail {
			return tb.mem[len(tb.mem):cap(tb.mem)], tb.id
		}
	}
	for i := r.compacted - 1; i >= 1; i-- {
		if tb := r.at(i); tb.id > id && cap(tb.mem)-len(tb.mem) >= minTail {
			return tb.mem[len(tb.mem):cap(tb.mem)], tb.id
		}
	}
	return nil, 0
}

// finishStream compacts the blocks not compacted yet (up to the frame
// that reached a limit) and returns the file: header, the records in
// order and trailer(frames), which may depend on the frame count. It
// returns at once: the file grows while the blocks left are compacted in
// the background (capfile.File.Grow), so that writing it out overlaps
// with making it; wait returns the frame count once it is whole. The file
// frees the ring (and the chunks) when it is released. The buffer must
// not be used afterwards.
func (r *ringBuffer) finishStream(header []byte, trailer func(frames int64) []byte) (*capfile.File, func() int64) {
	f := &capfile.File{}
	f.Append(header)
	if r.lead != nil {
		f.AppendBuffer(r.lead)
	}
	for _, run := range r.runs {
		f.Borrow(run.p)
	}
	if r.spill != nil {
		f.Own(r.spill)
	}
	k := r.k
	f.OnRelease(func() { _ = k.Free() })
	g := f.Grow()
	r.emit = g.Borrow
	r.help = g.Help
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.compactRest()
		if trailer != nil {
			g.Append(trailer(r.cFrames))
		}
		g.Done()
	}()
	return f, func() int64 {
		<-done
		return r.cFrames
	}
}
