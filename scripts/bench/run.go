package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// capturer is a program under test: its name and how to run it.
type capturer struct {
	name string
	// args returns the command line for a capture on iface that stops
	// after count frames.
	args func(iface string, count int, filter string) []string
	// after, when set, runs after each run (removes the file written).
	after func()
}

// config is one traffic configuration.
type config struct {
	size int
	half bool // send half the frames to dropPort and filter them out
}

func (c config) String() string {
	f := "no filter"
	if c.half {
		f = "half filtered"
	}
	return fmt.Sprintf("%d B, %s", c.size, f)
}

// filter is the capture filter of c ("" for none).
func (c config) filter() string {
	if c.half {
		return fmt.Sprintf("udp dst port %d", keepPort)
	}
	return ""
}

// runResult is one capturer's run on one burst of traffic.
type runResult struct {
	who      string
	cfg      config
	sent     int
	took     time.Duration // the generator's sending time
	want     int           // frames the filter keeps
	captured uint64
	received uint64
	drops    uint64
	cpu      time.Duration // user+system of the capturer process
	maxRSS   int64         // bytes
	// Peak resident memory by kind, sampled from /proc/PID/status every
	// few milliseconds: anonymous (heap, buffers) and file-backed (the
	// binary's pages and, for a packet socket, the ring mapping).
	peakAnon, peakFile int64
	stderr             []string
}

// ratio is the share of the frames the filter keeps that were captured.
func (r runResult) ratio() float64 { return float64(r.captured) / float64(max(r.want, 1)) }

// cpuPerM is CPU seconds per million frames captured: the cost of a frame
// kept, whatever the filter or the kernel's drops left out.
func (r runResult) cpuPerM() float64 { return r.cpu.Seconds() * 1e6 / float64(max(r.captured, 1)) }

var (
	reCaptured = regexp.MustCompile(`^(\d+) packets? captured$`)
	reReceived = regexp.MustCompile(`^(\d+) packets? received by filter$`)
	reDropped  = regexp.MustCompile(`^(\d+) packets? dropped by kernel$`)
)

// runner runs capturers against generated traffic on a testbed.
type runner struct {
	tb         *testbed
	self       string // this program, re-executed as the generator
	genTimeout time.Duration
	settle     time.Duration
}

// run starts c on the testbed's near end, waits until it is armed, sends
// frames of cfg through the pair, and collects c's counters and rusage.
func (r *runner) run(ctx context.Context, c capturer, cfg config, frames int, extra ...string) (runResult, error) {
	res := runResult{who: c.name, cfg: cfg, want: frames}
	if cfg.half {
		res.want = frames / 2
	}
	args := append(c.args(r.tb.host, res.want, cfg.filter()), extra...)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	errp, err := cmd.StderrPipe()
	if err != nil {
		return res, err
	}
	if err := cmd.Start(); err != nil {
		return res, err
	}
	var (
		mu    sync.Mutex
		lines []string
		armed = make(chan struct{})
		eof   = make(chan struct{})
	)
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(errp)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if strings.Contains(sc.Text(), "listening on ") {
				once.Do(func() { close(armed) })
			}
		}
	}()
	exited := make(chan error, 1)
	sampled := make(chan [2]int64, 1)
	go func() { sampled <- sampleRSS(cmd.Process.Pid, eof) }()
	go func() {
		<-eof // all of stderr read before Wait closes the pipe
		exited <- cmd.Wait()
	}()
	stderr := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}

	select {
	case <-armed:
	case err := <-exited:
		return res, fmt.Errorf("%s ended before arming: %v: %q", c.name, err, stderr())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return res, fmt.Errorf("%s not armed after 30s: %q", c.name, stderr())
	}

	rep, gerr := r.generate(ctx, cfg, frames)
	res.sent, res.took = rep.Sent, rep.Took

	// Give the capturer time to read the last blocks, then end it as a
	// user would.
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(r.settle):
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case werr = <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			werr = <-exited
			werr = fmt.Errorf("did not end 60s after SIGINT (killed): %v", werr)
		}
	}
	res.stderr = stderr()
	peak := <-sampled
	res.peakAnon, res.peakFile = peak[0], peak[1]
	if gerr != nil {
		return res, gerr
	}
	if werr != nil {
		return res, fmt.Errorf("%s: %w: %q", c.name, werr, res.stderr)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
		res.maxRSS = ru.Maxrss * 1024
	}
	found := 0
	for _, l := range res.stderr {
		for _, p := range []struct {
			re *regexp.Regexp
			v  *uint64
		}{{reCaptured, &res.captured}, {reReceived, &res.received}, {reDropped, &res.drops}} {
			if m := p.re.FindStringSubmatch(strings.TrimPrefix(l, "tcpdump: ")); m != nil {
				*p.v, _ = strconv.ParseUint(m[1], 10, 64)
				found++
			}
		}
	}
	if found != 3 {
		return res, fmt.Errorf("%s printed no counters: %q", c.name, res.stderr)
	}
	return res, nil
}

// generate runs the generator inside the namespace and returns its report.
func (r *runner) generate(ctx context.Context, cfg config, frames int) (genReport, error) {
	args := []string{"netns", "exec", r.tb.ns, r.self, "gen",
		"-if", r.tb.peer, "-size", strconv.Itoa(cfg.size), "-n", strconv.Itoa(frames),
		"-src", r.tb.peerAddr.String(), "-dst", r.tb.hostAddr.String(),
		"-timeout", r.genTimeout.String(),
	}
	if cfg.half {
		args = append(args, "-half")
	}
	gctx, cancel := context.WithTimeout(ctx, r.genTimeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(gctx, "ip", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return genReport{}, fmt.Errorf("generator: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	var rep genReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		return rep, fmt.Errorf("generator said %q: %w", out.String(), err)
	}
	if rep.Sent == 0 {
		return rep, errors.New("generator sent nothing")
	}
	return rep, nil
}

// sampleRSS reads RssAnon and RssFile of pid every 5 ms until done is
// closed (or the process is gone) and returns the peak of each, in bytes.
func sampleRSS(pid int, done <-chan struct{}) [2]int64 {
	var peak [2]int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return peak
		}
		for _, l := range strings.Split(string(b), "\n") {
			for i, key := range []string{"RssAnon:", "RssFile:"} {
				if v, ok := strings.CutPrefix(l, key); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					peak[i] = max(peak[i], kb*1024)
				}
			}
		}
		select {
		case <-done:
			return peak
		case <-t.C:
		}
	}
}
