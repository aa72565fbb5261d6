//go:build linux

package netns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cmdTimeout bounds every ip(8) command.
const cmdTimeout = 10 * time.Second

// An NS is a network namespace made for one test with `ip netns add`.
type NS struct {
	// Name is the namespace's name under /run/netns.
	Name string
	fd   int // open /run/netns/Name, for setns(2)
}

// New makes a fresh network namespace with its loopback up, and deletes it
// when t ends. It fails t when that is not possible.
func New(t testing.TB) *NS {
	t.Helper()
	name := fmt.Sprintf("pcapd-%d-%s", os.Getpid(), tag())
	if err := ip("netns", "add", name); err != nil {
		t.Fatalf("netns: %v", err)
	}
	ns := &NS{Name: name, fd: -1}
	t.Cleanup(func() {
		if ns.fd >= 0 {
			unix.Close(ns.fd)
		}
		if err := ip("netns", "del", name); err != nil {
			t.Errorf("netns: %v", err)
		}
	})
	fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("netns: open namespace %s: %v", name, err)
	}
	ns.fd = fd
	if err := ns.IP("link", "set", "lo", "up"); err != nil {
		t.Fatalf("netns: %v", err)
	}
	return ns
}

// IP runs `ip -n NAME args...` in the namespace.
func (ns *NS) IP(args ...string) error {
	return ip(append([]string{"-n", ns.Name}, args...)...)
}

// Do runs f on an OS thread that has entered the namespace, and returns f's
// error. Sockets f opens stay in the namespace after Do returns and may be
// used from any goroutine. The thread is never handed back to the Go
// scheduler: it ends with f, so no other goroutine ever runs in the
// namespace by accident.
func (ns *NS) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns: setns %s: %w", ns.Name, os.NewSyscallError("setns", err))
			return
		}
		errc <- f()
	}()
	return <-errc
}

// ip runs ip(8) with args, bounded by cmdTimeout.
func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// tag returns a short random base-36 string that, with the pid, makes names
// unique among concurrent test processes.
func tag() string {
	return strconv.FormatUint(uint64(rand.Uint32()%(36*36*36*36)), 36)
}

// writeSysctl writes v to /proc/sys/PATH in the calling thread's namespace.
func writeSysctl(path, v string) error {
	return os.WriteFile("/proc/sys/"+path, []byte(v), 0)
}
