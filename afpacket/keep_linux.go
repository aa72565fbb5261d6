//go:build linux

package afpacket

import (
	"net"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// More offsets in struct tpacket_block_desc (see ring_linux.go).
const (
	bdBlkLen    = 20 // __u32 blk_len
	bdSeqNum    = 24 // __aligned_u64 seq_num
	bdFirstSec  = 32 // ts_first_pkt.ts_sec
	bdFirstNsec = 36 // ts_first_pkt.ts_nsec
	bdLastSec   = 40 // ts_last_pkt.ts_sec
	bdLastNsec  = 44 // ts_last_pkt.ts_nsec
)

// keep implements Conn.Keep. The kept blocks are the ring's blocks head,
// head+1, ... (kept of them, in ring order); the next block the kernel
// hands over is the one after them.
func (h *handle) keep(dst []Block) ([]Block, error) {
	if h.closed.Load() {
		return dst, h.opError(net.ErrClosed)
	}
	h.keeping.Store(true)
	if h.mem == nil {
		if err := h.mapRing(); err != nil {
			return dst, h.opError(err)
		}
	}
	// The interface's loss: SO_ERROR, read once per call (see wait).
	if h.downErr == nil && h.rc != nil && h.takeSockErr() {
		h.setDown()
		h.downAt = time.Now()
	}
	n0 := len(dst)
	for h.kept < h.numBlocks {
		i := h.head + h.kept
		if i >= h.numBlocks {
			i -= h.numBlocks
		}
		if atomic.LoadUint32(h.blockStatus(i))&unix.TP_STATUS_USER == 0 {
			break
		}
		dst = append(dst, h.blockInfo(i))
		h.kept++
	}
	if h.downErr != nil && len(dst) == n0 {
		// Nothing more came: the kernel fills no block (it retires a
		// part-filled one within a block timeout), or nothing came for two
		// block timeouts.
		if h.fillingKept() == 0 || time.Since(h.downAt) > 2*h.timeout {
			return dst, h.opError(h.downErr)
		}
	}
	return dst, nil
}

// blockInfo reads the descriptor of block i, which the kernel handed over.
func (h *handle) blockInfo(i int) Block {
	b := h.block(i)
	ts := func(sec, nsec int) int64 {
		return int64(ne.Uint32(b[sec:]))*1e9 + int64(ne.Uint32(b[nsec:]))
	}
	return Block{
		Losing:  ne.Uint32(b[bdBlockStatus:])&unix.TP_STATUS_LOSING != 0,
		Seq:     ne.Uint64(b[bdSeqNum:]),
		Packets: int(ne.Uint32(b[bdNumPkts:])),
		Len:     min(int(ne.Uint32(b[bdBlkLen:])), len(b)),
		First:   ts(bdFirstSec, bdFirstNsec),
		Last:    ts(bdLastSec, bdLastNsec),
		index:   i,
	}
}

// releaseKept implements Conn.Release.
func (h *handle) releaseKept(n int) {
	for ; n > 0 && h.kept > 0; n-- {
		atomic.StoreUint32(h.blockStatus(h.head), unix.TP_STATUS_KERNEL)
		h.head++
		if h.head == h.numBlocks {
			h.head = 0
		}
		h.kept--
	}
}

func (h *handle) keptBlocks() int    { return h.kept }
func (h *handle) ringBlocks() int    { return h.numBlocks }
func (h *handle) ringBlockSize() int { return h.blockSize }
func (h *handle) skipsFrames() bool  { return h.loIfindex != 0 && !h.dupsDropped }

// fillingKept implements Conn.Filling: the block after the kept ones is
// the one the kernel fills, unless the ring is full.
func (h *handle) fillingKept() int {
	if h.mem == nil && h.mapRing() != nil || h.mem == nil {
		return 0 // closed or freed before the first read
	}
	if h.kept == h.numBlocks {
		return 0
	}
	i := h.head + h.kept
	if i >= h.numBlocks {
		i -= h.numBlocks
	}
	if atomic.LoadUint32(h.blockStatus(i))&unix.TP_STATUS_USER != 0 {
		return 0 // handed over since: Keep takes it next
	}
	return int(h.numPkts(i))
}

// free implements Conn.Free.
func (h *handle) free() error {
	err := h.close()
	h.statsMu.Lock()
	defer h.statsMu.Unlock()
	if h.freed {
		return err
	}
	h.freed = true
	if h.unmap != nil && h.mem != nil {
		h.unmap.Stop()
		if uerr := unix.MunmapPtr(unsafe.Pointer(&h.mem[0]), uintptr(len(h.mem))); uerr != nil && err == nil {
			err = &net.OpError{Op: "free", Net: network, Addr: h.addr, Err: os.NewSyscallError("munmap", uerr)}
		}
	}
	h.mem = nil
	return err
}

// stop implements Conn.Stop.
func (h *handle) stop() error {
	if h.closed.Load() {
		return nil
	}
	if h.rc == nil { // a ring in memory: nothing queues frames
		return nil
	}
	var serr error
	err := h.rc.Control(func(fd uintptr) {
		serr = attachFilter(int(fd), []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: 0}}, DefaultSnaplen)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return &net.OpError{Op: "stop", Net: network, Addr: h.addr, Err: err}
	}
	h.stopped.Store(true)
	return nil
}
