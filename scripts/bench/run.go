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
	// args returns the command line for a capture on iface; count, when
	// not zero, is the number of frames after which it stops by itself.
	args func(iface string, count int, filter string) []string
	// file, when set, is the file the capture writes (its size is the
	// write-out's bytes); else it writes a pcap file to /dev/null.
	file string
	// after, when set, runs after each run (removes the file written).
	after func()
}

// config is one traffic configuration.
type config struct {
	size int
	half bool // send half the frames to dropPort and filter them out
	rate int  // frames per second; 0: as fast as the generator goes
}

func (c config) String() string {
	f := "no filter"
	if c.half {
		f = "half filtered"
	}
	r := "full speed"
	if c.rate > 0 {
		r = fmt.Sprintf("%d kpps", c.rate/1000)
	}
	return fmt.Sprintf("%d B, %s, %s", c.size, r, f)
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
	cpu      time.Duration // user+system of the capturer process, all of it
	maxRSS   int64         // bytes
	// Peak resident memory by kind, sampled from /proc/PID/status every
	// few milliseconds: anonymous (heap, buffers) and file-backed (the
	// binary's pages and, for a packet socket, the ring mapping).
	peakAnon, peakFile int64
	stderr             []string

	// The run in phases. Set-up: from the start of the process to its
	// "listening on" line (setup is the wall time, setupCPU the CPU time
	// spent). Capture: from that line until the generator has finished
	// and the settle time has passed (window, CPU time). Write-out: from
	// then (the SIGINT) until the counters are printed, after the file is
	// written (writeWall, the wall time), and the CPU time until the
	// process has exited (writeCPU); nothing when the capture ended by
	// itself before.
	setup, setupCPU     time.Duration
	window              time.Duration
	writeWall, writeCPU time.Duration
	fileBytes           int64 // bytes of the file written
}

// ratio is the share of the frames the filter keeps that were captured.
func (r runResult) ratio() float64 { return float64(r.captured) / float64(max(r.want, 1)) }

// cpuPerM is CPU seconds per million frames captured in the capture
// window: the cost of a frame kept, whatever the filter or the kernel's
// drops left out.
func (r runResult) cpuPerM() float64 { return r.window.Seconds() * 1e6 / float64(max(r.captured, 1)) }

// totalPerM is cpuPerM for the process's whole CPU time.
func (r runResult) totalPerM() float64 { return r.cpu.Seconds() * 1e6 / float64(max(r.captured, 1)) }

// writeGBps is the write-out's throughput in GB/s (0 when unknown).
func (r runResult) writeGBps() float64 {
	if r.writeWall <= 0 || r.fileBytes <= 0 {
		return 0
	}
	return float64(r.fileBytes) / r.writeWall.Seconds() / 1e9
}

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
// frames of cfg through the pair, waits r.settle, interrupts c (SIGINT) if
// it still runs, and collects its counters, CPU time and memory. With
// count set the capturer is asked to stop after the frames the filter
// keeps (it then may end before the SIGINT).
func (r *runner) run(ctx context.Context, c capturer, cfg config, frames int, count bool) (runResult, error) {
	res := runResult{who: c.name, cfg: cfg, want: frames}
	if cfg.half {
		res.want = frames / 2
	}
	n := 0
	if count {
		n = res.want
	}
	args := c.args(r.tb.host, n, cfg.filter())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	errp, err := cmd.StderrPipe()
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	pid := cmd.Process.Pid
	var (
		mu    sync.Mutex
		lines []string
		armed = make(chan struct{})
		eof   = make(chan struct{})
	)
	var armedAt, countedAt time.Time
	var armedCPU time.Duration
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(errp)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if reCaptured.MatchString(strings.TrimPrefix(sc.Text(), "tcpdump: ")) {
				mu.Lock()
				countedAt = time.Now() // the file is written: the counters come last
				mu.Unlock()
			}
			if strings.Contains(sc.Text(), "listening on ") {
				once.Do(func() {
					armedAt, armedCPU = time.Now(), taskCPU(pid)
					close(armed)
				})
			}
		}
	}()
	exited := make(chan error, 1)
	sampled := make(chan [2]int64, 1)
	go func() { sampled <- sampleRSS(pid, eof) }()
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
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return res, fmt.Errorf("%s not armed after 60s: %q", c.name, stderr())
	}
	res.setup, res.setupCPU = armedAt.Sub(t0), armedCPU

	rep, gerr := r.generate(ctx, cfg, frames)
	res.sent, res.took = rep.Sent, rep.Took

	// Give the capturer the settle time to read the last blocks, then
	// end it as a user would; the capture window ends there.
	var (
		werr    error
		stopped bool // the process was still running at the window's end
		winCPU  time.Duration
		stopAt  time.Time
	)
	select {
	case werr = <-exited:
	case <-time.After(r.settle):
		winCPU, stopAt, stopped = taskCPU(pid), time.Now(), true
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case werr = <-exited:
		case <-time.After(120 * time.Second):
			_ = cmd.Process.Kill()
			werr = <-exited
			werr = fmt.Errorf("did not end 120s after SIGINT (killed): %v", werr)
		}
	}
	exitAt := time.Now()
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
	if stopped {
		res.window = winCPU - res.setupCPU
		res.writeCPU = max(0, res.cpu-winCPU)
		res.writeWall = exitAt.Sub(stopAt)
		mu.Lock()
		if !countedAt.IsZero() {
			res.writeWall = countedAt.Sub(stopAt)
		}
		mu.Unlock()
	} else {
		res.window = res.cpu - res.setupCPU
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
	if c.file != "" {
		if fi, err := os.Stat(c.file); err == nil {
			res.fileBytes = fi.Size()
		}
	} else {
		res.fileBytes = 24 + int64(res.captured)*int64(16+cfg.size)
	}
	return res, nil
}

// taskCPU returns the CPU time the threads of process pid have run, from
// /proc/PID/task/*/schedstat (nanoseconds, unlike the clock ticks of
// /proc/PID/stat): 0 when the process is gone.
func taskCPU(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var sum int64
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			sum += v
		}
	}
	return time.Duration(sum)
}

// generate runs the generator inside the namespace and returns its report.
func (r *runner) generate(ctx context.Context, cfg config, frames int) (genReport, error) {
	args := []string{"netns", "exec", r.tb.ns, r.self, "gen",
		"-if", r.tb.peer, "-size", strconv.Itoa(cfg.size), "-n", strconv.Itoa(frames),
		"-src", r.tb.peerAddr.String(), "-dst", r.tb.hostAddr.String(),
		"-timeout", r.genTimeout.String(), "-rate", strconv.Itoa(cfg.rate),
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
