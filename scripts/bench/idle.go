package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// idleWait is how long the idle daemon runs before its memory is read:
// long enough for its socket pool to have prepared its spare.
const idleWait = 5 * time.Second

// idleRSS starts the daemon (bin) with an HTTP API on a loopback port and
// a local sink, lets it sit idle for idleWait, and returns its resident
// memory then: anonymous and file-backed (RssAnon, RssFile), in bytes.
func idleRSS(ctx context.Context, bin string) ([2]int64, error) {
	var rss [2]int64
	dir, err := os.MkdirTemp("", "pcapd-bench-idle-")
	if err != nil {
		return rss, err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rss, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(dir, "pcapdaemon.toml")
	text := fmt.Sprintf("[general]\nwritelocal = true\nlocaldir = %q\n\n[http]\nlisten = \"127.0.0.1:%d\"\n", dir, port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return rss, err
	}
	cmd := exec.CommandContext(ctx, bin, "-config", conf)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return rss, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	select {
	case err := <-done:
		return rss, fmt.Errorf("the daemon ended: %v", err)
	case <-time.After(idleWait):
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return rss, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		for i, key := range []string{"RssAnon:", "RssFile:"} {
			if v, ok := strings.CutPrefix(line, key); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				rss[i] = kb * 1024
			}
		}
	}
	return rss, nil
}
