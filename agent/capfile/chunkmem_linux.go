//go:build linux

package capfile

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapChunk maps size bytes (a multiple of HugePageSize) of anonymous memory
// outside the Go heap, aligned to a huge page, and faults it in at once.
//
// Why not make([]byte): a capture writes each chunk once, front to back,
// into memory nobody touched before, and every first touch of a 4 KiB page
// is a page fault — on a VM several microseconds, more than the copy of a
// 1,500-byte frame. One MADV_POPULATE_WRITE per chunk does the 512 faults
// in a single call. Keeping the chunks out of the heap also keeps a 100 MB
// capture from raising the garbage collector's heap goal, and a dropped
// chunk goes back to the system at once.
func mapChunk(size int) ([]byte, error) {
	// Map one huge page more than needed, then cut the unaligned ends.
	// (MmapPtr, not unix.Mmap: that one records each mapping for its own
	// Munmap, and these are cut and unmapped piecewise.)
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(size+HugePageSize), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	m := unsafe.Slice((*byte)(p), size+HugePageSize)
	base := uintptr(p)
	head := int((HugePageSize - base%HugePageSize) % HugePageSize)
	if head > 0 {
		_ = munmap(m[:head])
	}
	if tail := HugePageSize - head; tail > 0 {
		_ = munmap(m[head+size:])
	}
	c := m[head : head+size : head+size]
	// Fault the chunk in now, in one call (Linux 5.14; older kernels say
	// EINVAL and the chunk faults in as it is written).
	//
	// No MADV_HUGEPAGE: on VMs that report free memory to the hypervisor
	// (virtio-balloon free page reporting), free blocks of huge page size
	// are the ones handed back to the host, so a huge page is memory the
	// host must fault in again — measured on the 2-vCPU VM this was built
	// on, capturing 1514-byte frames cost 3.1-3.6 CPU s per million with
	// huge pages against about 2 with 4 KiB pages. Where transparent huge
	// pages are "always", the kernel still decides by itself.
	_ = unix.Madvise(c, unix.MADV_POPULATE_WRITE)
	return c, nil
}

// unmapChunk returns a chunk from mapChunk to the kernel.
func unmapChunk(c []byte) error {
	return munmap(c)
}

// munmap unmaps part of a mapping (unix.Munmap only takes whole mappings
// made by unix.Mmap).
func munmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if err := unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b))); err != nil {
		return os.NewSyscallError("munmap", err)
	}
	return nil
}
