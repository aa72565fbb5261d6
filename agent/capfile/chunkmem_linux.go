//go:build linux

package capfile

import (
	"os"
	"syscall"
	"unsafe"
)

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14), which the
// syscall package does not name.
const madvPopulateWrite = 23

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
	// (The system call itself, not syscall.Mmap: that one records each
	// mapping for its own Munmap, and these are cut and unmapped
	// piecewise.)
	p, _, errno := syscall.Syscall6(syscall.SYS_MMAP, 0, uintptr(size+HugePageSize), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE, ^uintptr(0), 0)
	if errno != 0 {
		return nil, os.NewSyscallError("mmap", errno)
	}
	m := unsafe.Slice((*byte)(mapped(p)), size+HugePageSize)
	base := p
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
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(unsafe.Pointer(unsafe.SliceData(c))), uintptr(len(c)), madvPopulateWrite)
	return c, nil
}

// mapped turns the address mmap returned into a pointer. The memory is
// outside the Go heap, so the garbage collector neither moves nor frees
// it and the conversion (which go vet cannot tell from a misuse) is safe.
func mapped(addr uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&addr)) }

// unmapChunk returns a chunk from mapChunk to the kernel.
func unmapChunk(c []byte) error {
	return munmap(c)
}

// munmap unmaps part of a mapping (syscall.Munmap only takes whole
// mappings made by syscall.Mmap).
func munmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MUNMAP, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), 0); errno != 0 {
		return os.NewSyscallError("munmap", errno)
	}
	return nil
}
