package bpfcompile

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/cbpf"
	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// ktAttach attaches raw to the AF_PACKET socket fd with
// SO_ATTACH_FILTER (replacing the filter before) and returns the kernel's
// answer.
func ktAttach(fd int, raw []bpf.RawInstruction) error {
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter))}
	if len(filter) > 0 {
		prog.Filter = &filter[0]
	}
	if len(raw) > 0xffff {
		return unix.EINVAL
	}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog)
}

// ktPacketSocket opens an AF_PACKET socket that receives nothing (protocol 0,
// not bound): a place to attach filters.
func ktPacketSocket(t *testing.T) int {
	t.Helper()
	testenv.RequireRoot(t)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket(AF_PACKET): %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// ktAgrees attaches raw and reports a disagreement between the kernel
// and Check, or nil. ENOMEM (a program over net.core.optmem_max) is not the
// checker's verdict: it is reported as skipped.
func ktAgrees(fd int, raw []bpf.RawInstruction) (skipped bool, err error) {
	kerr := ktAttach(fd, raw)
	if errors.Is(kerr, unix.ENOMEM) {
		return true, nil
	}
	cerr := checkRaw(raw)
	if (kerr == nil) != (cerr == nil) {
		return false, fmt.Errorf("kernel: %v, Check: %v, program:\n%s", kerr, cerr, confListing(raw))
	}
	return false, nil
}

// TestKernelAcceptsCompiled attaches every program of the conformance run to
// a real socket: ours for every accept case on the Linux link types,
// optimized and not, and libpcap's expected programs for every link type.
// The kernel must accept exactly the programs Check accepts; libpcap's
// protochain programs are the expected rejections (backward jumps).
func TestKernelAcceptsCompiled(t *testing.T) {
	fd := ktPacketSocket(t)
	c := confLoadCorpus(t)
	res, err := NewFileResolver(confPath(t, "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var ours, theirs, rejected, skipped int
	try := func(what string, raw []bpf.RawInstruction, mine bool) {
		k := fmt.Sprint(raw)
		if seen[k] {
			return
		}
		seen[k] = true
		s, err := ktAgrees(fd, raw)
		switch {
		case err != nil:
			t.Errorf("%s: %v", what, err)
		case s:
			skipped++
		case checkRaw(raw) != nil:
			rejected++
			switch {
			case errors.Is(checkRaw(raw), ErrBackwardJump):
			case mine:
				t.Errorf("%s: rejected for another reason than a backward jump: %v", what, checkRaw(raw))
			default:
				// libpcap's own bug, on a link type a Linux host does not capture.
				t.Logf("%s: the kernel rejects libpcap's program too: %v", what, checkRaw(raw))
			}
		}
	}
	for _, a := range c.Accept {
		if a.Skip != "" || a.Special != "" {
			continue
		}
		for _, text := range []*string{a.ExpectedOpt, a.ExpectedUnopt} {
			if text == nil {
				continue
			}
			raw, err := confParseExpected(*text)
			if err != nil {
				t.Fatalf("%s: %v", a.Label, err)
			}
			theirs++
			try(a.Label+" (libpcap)", raw, false)
		}
		lt, ok := confLinkType(a.DLT)
		if !ok {
			continue
		}
		nm, _ := confNetmask(a.Netmask)
		for _, noOpt := range []bool{false, true} {
			opts := Options{LinkType: lt, Snaplen: a.Snaplen, Netmask: nm, Live: a.LinuxExt, NoOptimize: noOpt, Resolver: res}
			if a.GenerateOffline != nil {
				opts.OfflineAF, opts.SwappedAF = true, *a.GenerateOffline == "swapped"
			}
			prog, err := confSafeCompile(a.Expr, opts)
			if err != nil {
				continue // TestConformance reports it
			}
			raw, err := vmAssemble(prog)
			if err != nil {
				t.Errorf("%s: %v", a.Label, err)
				continue
			}
			ours++
			try(a.Label+" (ours)", raw, true)
		}
	}
	t.Logf("%d distinct programs attached (%d of ours, %d of libpcap's compiled): %d rejected by both the kernel and Check, %d over optmem_max",
		len(seen), ours, theirs, rejected, skipped)
	if len(seen) < 300 {
		t.Errorf("only %d distinct programs", len(seen))
	}
}

// TestKernelCheckerRules attaches random programs, most of them broken in
// one way, and requires Check to give the kernel's verdict on each.
func TestKernelCheckerRules(t *testing.T) {
	fd := ktPacketSocket(t)
	r := vmTestRand()
	var accepted, rejected int
	for i := range 20000 {
		raw := vmTestRandomProgram(r, 1+r.IntN(24), true)
		for range r.IntN(3) {
			vmTestMutate(r, raw)
		}
		if i%500 == 0 {
			raw = nil // empty program
		}
		if _, err := ktAgrees(fd, raw); err != nil {
			t.Fatal(err)
		}
		if checkRaw(raw) == nil {
			accepted++
		} else {
			rejected++
		}
	}
	// Programs past the kernel's length limit.
	long := make([]bpf.RawInstruction, vmMaxProgramLen+1)
	for i := range long {
		long[i] = bpf.RawInstruction{Op: cbpf.RET}
	}
	for _, raw := range [][]bpf.RawInstruction{long[:vmMaxProgramLen], long} {
		if _, err := ktAgrees(fd, raw); err != nil {
			t.Errorf("%d instructions: %v", len(raw), err)
		}
	}
	t.Logf("kernel and Check agree on %d accepted and %d rejected random programs", accepted, rejected)
	if accepted < 2000 || rejected < 2000 {
		t.Errorf("unbalanced sample: %d accepted, %d rejected", accepted, rejected)
	}
}
