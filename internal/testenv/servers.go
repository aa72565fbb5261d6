package testenv

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FindBinary returns the path of a test server's binary built from the Go
// package pkg (checked with debug/buildinfo), looking for each name in PATH,
// then in $GOBIN and $(go env GOPATH)/bin. When it is missing the test is
// skipped, or fails under PCAPDAEMON_REQUIRE_PRIV=1, naming the install
// script.
func FindBinary(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, p := range filepath.SplitList(gopath) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	for _, name := range names {
		cands := []string{}
		if p, err := exec.LookPath(name); err == nil {
			cands = append(cands, p)
		}
		for _, d := range dirs {
			cands = append(cands, filepath.Join(d, name))
		}
		for _, c := range cands {
			bi, err := buildinfo.ReadFile(c)
			if err == nil && bi.Path == pkg {
				return c
			}
		}
	}
	Skip(t, fmt.Sprintf("test server %s (%s) not found in PATH or GOPATH/bin: run scripts/testservers.sh", names[0], pkg))
	return ""
}

// Process is a test server started by StartProcess.
type Process struct {
	Cmd *exec.Cmd
	Out *SyncBuffer // combined output, for failure messages
}

// Stop kills the process (by its PID) and waits for it. It is idempotent.
func (p *Process) Stop() {
	if p.Cmd.Process == nil || p.Cmd.ProcessState != nil {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	_ = p.Cmd.Wait()
}

// StartProcess starts cmd, stops it at cleanup, and waits until addr
// accepts TCP connections (at most 20s).
func StartProcess(t testing.TB, cmd *exec.Cmd, addr string) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, Out: new(SyncBuffer)}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(p.Stop)
	if err := WaitTCP(context.Background(), addr, 20*time.Second); err != nil {
		p.Stop()
		t.Fatalf("%s did not listen on %s: %v\noutput:\n%s", cmd.Path, addr, err, p.Out)
	}
	return p
}

// WaitTCP polls addr until it accepts a connection or timeout passes.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
