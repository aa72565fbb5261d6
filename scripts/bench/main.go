package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gen" {
		if err := runGen(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench gen:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the benchmark; it returns the exit status. Everything it makes is
// removed by the deferred cleanup, also after SIGINT/SIGTERM (which cancel
// ctx, and with it the child processes).
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	frames := fs.Int("frames", 1_000_000, "frames per run")
	rounds := fs.Int("rounds", 2, "runs of each capturer per configuration (alternating which goes first)")
	sizes := fs.String("sizes", "60,1514", "frame sizes in bytes, without the FCS")
	rates := fs.String("rates", "0,400000", "sending rates in frames per second (0: as fast as the generator goes)")
	bin := fs.String("pcapdaemon", "", "pcapdaemon binary (default: build it from this module)")
	tcpdump := fs.String("tcpdump", "", "tcpdump binary (default: /usr/sbin/tcpdump or /usr/bin/tcpdump)")
	ringKiB := fs.Int("B", 0, "ring size in KiB for both capturers (-B); 0 leaves each its default")
	genTimeout := fs.Duration("gen-timeout", 60*time.Second, "longest the generator sends in one run")
	settle := fs.Duration("settle", 2*time.Second, "wait after the generator is done before interrupting a capturer (the end of the capture window)")
	rss := fs.Bool("rss", true, "also measure the peak RSS of a 100 MB capture (1514 and 60 B frames) and of the idle daemon")
	shm := fs.Bool("shm", true, "also run both capturers writing their file into tmpfs (/dev/shm), i.e. into memory")
	count := fs.Bool("count", false, "give each capturer -c with the frames the filter keeps (it then ends by itself, its write-out inside the window)")
	nice := fs.Int("nice", 0, "nice value for the bench and everything it runs (e.g. -10 on a shared, busy machine)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var sz []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 46 || n > 1514 {
			fmt.Fprintf(stderr, "bench: -sizes: %q is not a frame size between 46 and 1514\n", s)
			return 2
		}
		sz = append(sz, n)
	}
	var rt []int
	for _, s := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			fmt.Fprintf(stderr, "bench: -rates: %q is not a rate in frames per second\n", s)
			return 2
		}
		rt = append(rt, n)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "bench: needs root (network namespaces, AF_PACKET sockets)")
		return 1
	}
	if *nice != 0 {
		// Children inherit it: generator and capturers alike.
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, *nice); err != nil {
			fmt.Fprintf(stderr, "bench: -nice %d: %v\n", *nice, err)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, stdout, stderr, benchOptions{
		frames: *frames, rounds: *rounds, sizes: sz, rates: rt, bin: *bin, tcpdump: *tcpdump,
		ringKiB: *ringKiB, genTimeout: *genTimeout, settle: *settle, rss: *rss, shm: *shm, nice: *nice,
		count: *count,
	}); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

type benchOptions struct {
	frames, rounds int
	sizes, rates   []int
	bin, tcpdump   string
	ringKiB, nice  int
	genTimeout     time.Duration
	settle         time.Duration
	rss, shm       bool
	count          bool
}

func bench(ctx context.Context, stdout, stderr io.Writer, o benchOptions) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if o.tcpdump == "" {
		for _, p := range []string{"/usr/sbin/tcpdump", "/usr/bin/tcpdump"} {
			if _, err := os.Stat(p); err == nil {
				o.tcpdump = p
				break
			}
		}
		if o.tcpdump == "" {
			return errors.New("no tcpdump in /usr/sbin or /usr/bin (use -tcpdump)")
		}
	}
	if o.bin == "" {
		dir, err := os.MkdirTemp("", "pcapd-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if o.bin, err = buildPcapdaemon(ctx, dir); err != nil {
			return err
		}
	}
	tb, cleanup, err := newTestbed()
	defer cleanup()
	if err != nil {
		return err
	}
	r := &runner{tb: tb, self: self, genTimeout: o.genTimeout, settle: o.settle}

	ring := func() []string {
		if o.ringKiB > 0 {
			return []string{"-B", strconv.Itoa(o.ringKiB)}
		}
		return nil
	}
	oursTo := func(name, file string) capturer {
		return capturer{name: name, args: func(iface string, count int, filter string) []string {
			a := []string{o.bin, "capture", "-i", iface, "-s", "262144", "--bytes", "0", "-w", cmp.Or(file, os.DevNull)}
			if count > 0 {
				a = append(a, "-c", strconv.Itoa(count))
			}
			a = append(a, ring()...)
			if filter != "" {
				a = append(a, filter)
			}
			return a
		}, file: file}
	}
	tcpdumpTo := func(name, file string) capturer {
		return capturer{name: name, args: func(iface string, count int, filter string) []string {
			a := []string{o.tcpdump, "-i", iface, "-n", "-s", "262144", "-w", cmp.Or(file, os.DevNull)}
			if count > 0 {
				a = append(a, "-c", strconv.Itoa(count))
			}
			a = append(a, ring()...)
			if filter != "" {
				a = append(a, filter)
			}
			return a
		}, file: file}
	}
	ours, theirs := oursTo("pcapdaemon", ""), tcpdumpTo("tcpdump", "")
	capturers := [][]capturer{{ours, theirs}, {theirs, ours}}
	if o.shm {
		// Writing into tmpfs keeps every byte in memory, as the capture
		// does: the fair comparison of the memory's cost, and the
		// write-out into a real file.
		shm, err := os.MkdirTemp("/dev/shm", "pcapd-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(shm)
		// tcpdump opens its file after dropping root for its own user.
		if err := os.Chmod(shm, 0o777); err != nil {
			return err
		}
		inMem := func(c capturer) capturer {
			c.after = func() { _ = os.Remove(c.file) }
			return c
		}
		oursShm := inMem(oursTo("pcapdaemon-shm", filepath.Join(shm, "pcapdaemon.pcap")))
		theirsShm := inMem(tcpdumpTo("tcpdump-shm", filepath.Join(shm, "tcpdump.pcap")))
		capturers = [][]capturer{{ours, theirs, oursShm, theirsShm}, {theirsShm, oursShm, theirs, ours}}
	}

	fmt.Fprintf(stdout, "pcapdaemon capture vs %s, %d frames per run, %d round(s), veth %s <-> %s (netns %s)\n",
		tcpdumpVersion(o.tcpdump), o.frames, o.rounds, tb.host, tb.peer, tb.ns)
	fmt.Fprintf(stdout, "load before: %s; nice %d\n\n", loadAvg(), o.nice)
	var all []runResult
	var cfgs []config
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tround\tcapturer\tsent\tgen kpps\twanted\tcaptured\tkernel drops\tratio\t"+
		"set-up s\tset-up CPU s\tCPU s/M capturing\twrite-out s\twrite-out GB/s\tCPU s/M total\tmax RSS MB\t")
	for _, size := range o.sizes {
		for _, rate := range o.rates {
			for _, half := range []bool{false, true} {
				cfg := config{size: size, half: half, rate: rate}
				cfgs = append(cfgs, cfg)
				for round := range o.rounds {
					for _, c := range capturers[round%2] {
						res, err := r.run(ctx, c, cfg, o.frames, o.count)
						if c.after != nil {
							c.after()
						}
						if err != nil {
							return fmt.Errorf("%v, round %d: %w", cfg, round+1, err)
						}
						all = append(all, res)
						fmt.Fprintf(stderr, "bench: %v, round %d, %s: %d of %d captured, %.3f CPU s capturing, %.3f in all\n",
							cfg, round+1, res.who, res.captured, res.want, res.window.Seconds(), res.cpu.Seconds())
						fmt.Fprintf(tw, "%v\t%d\t%s\t%d\t%.0f\t%d\t%d\t%d\t%.2f%%\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.3f\t%.0f\t\n",
							cfg, round+1, res.who, res.sent, float64(res.sent)/res.took.Seconds()/1e3,
							res.want, res.captured, res.drops, 100*res.ratio(),
							res.setup.Seconds(), res.setupCPU.Seconds(), res.cpuPerM(),
							res.writeWall.Seconds(), res.writeGBps(), res.totalPerM(),
							float64(res.maxRSS)/1e6)
					}
				}
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nload after: %s\n\n", loadAvg())
	summary(stdout, cfgs, all)

	if o.rss {
		fmt.Fprintln(stdout)
		for _, size := range []int{1514, 60} {
			res, err := r.run(ctx, capturer{name: "pcapdaemon --bytes 100000000", args: func(iface string, _ int, _ string) []string {
				return append([]string{o.bin, "capture", "-i", iface, "--bytes", "100000000", "-w", os.DevNull}, ring()...)
			}}, config{size: size}, 100_000_000/(size+16)+20_000, false)
			if err != nil {
				return fmt.Errorf("RSS run: %w", err)
			}
			fmt.Fprintf(stdout, "peak RSS of `pcapdaemon capture --bytes 100000000` (%d B frames, %d captured, %d dropped, %.1f MB of pcap): %.1f MB (ru_maxrss);\n"+
				"  sampled peaks: %.1f MB anonymous (buffer, heap), %.1f MB file-backed (binary text and data read, the ring mapping); set-up %.3f s\n",
				size, res.captured, res.drops, float64(res.captured*uint64(size+16)+24)/1e6, float64(res.maxRSS)/1e6,
				float64(res.peakAnon)/1e6, float64(res.peakFile)/1e6, res.setup.Seconds())
		}
		idle, err := idleRSS(ctx, o.bin)
		if err != nil {
			return fmt.Errorf("idle RSS: %w", err)
		}
		fmt.Fprintf(stdout, "idle RSS of the daemon (HTTP API, local sink, no request), %v after start: %.1f MB (%.1f anonymous, %.1f file-backed)\n",
			idleWait, float64(idle[0]+idle[1])/1e6, float64(idle[0])/1e6, float64(idle[1])/1e6)
	}
	return nil
}

// summary prints, per configuration, the table of the issue: the median
// CPU per million frames captured within the capture window of tcpdump
// and of pcapdaemon over the rounds, their ratio, and the worst capture
// ratio of each; then the medians of what happens outside the window.
func summary(w io.Writer, cfgs []config, all []runResult) {
	pick := func(cfg config, who string) []runResult {
		var out []runResult
		for _, r := range all {
			if r.cfg == cfg && r.who == who {
				out = append(out, r)
			}
		}
		return out
	}
	med := func(rs []runResult, f func(runResult) float64) float64 {
		v := make([]float64, 0, len(rs))
		for _, r := range rs {
			v = append(v, f(r))
		}
		return median(v)
	}
	worst := func(rs []runResult) float64 {
		m := math.Inf(1)
		for _, r := range rs {
			m = min(m, r.ratio())
		}
		return m
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "frames\ttcpdump CPU s/M\tpcapdaemon CPU s/M\tratio\ttcpdump captured (worst)\tpcapdaemon captured (worst)\tgen kpps (median)\t")
	for _, cfg := range cfgs {
		td, pd := pick(cfg, "tcpdump"), pick(cfg, "pcapdaemon")
		tc, pc := med(td, runResult.cpuPerM), med(pd, runResult.cpuPerM)
		rate := med(append(td, pd...), func(r runResult) float64 { return float64(r.sent) / r.took.Seconds() / 1e3 })
		fmt.Fprintf(tw, "%v\t%.3f\t%.3f\t%.2f\t%.2f%%\t%.2f%%\t%.0f\t\n", cfg, tc, pc, pc/tc, 100*worst(td), 100*worst(pd), rate)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "frames\tcapturer\tset-up s\tset-up CPU s\twrite-out s\twrite-out CPU s\twrite-out GB/s\tCPU s/M total\tmax RSS MB\t")
	for _, cfg := range cfgs {
		for _, who := range []string{"pcapdaemon", "pcapdaemon-shm", "tcpdump", "tcpdump-shm"} {
			rs := pick(cfg, who)
			if len(rs) == 0 {
				continue
			}
			fmt.Fprintf(tw, "%v\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.3f\t%.0f\t\n", cfg, who,
				med(rs, func(r runResult) float64 { return r.setup.Seconds() }),
				med(rs, func(r runResult) float64 { return r.setupCPU.Seconds() }),
				med(rs, func(r runResult) float64 { return r.writeWall.Seconds() }),
				med(rs, func(r runResult) float64 { return r.writeCPU.Seconds() }),
				med(rs, runResult.writeGBps), med(rs, runResult.totalPerM),
				med(rs, func(r runResult) float64 { return float64(r.maxRSS) / 1e6 }))
		}
	}
	tw.Flush()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// buildPcapdaemon builds the module's binary into dir, as shipped
// (CGO_ENABLED=0).
func buildPcapdaemon(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("run the bench from the pcapdaemon module (go env GOMOD: %v)", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "pcapdaemon")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return bin, nil
}

func tcpdumpVersion(path string) string {
	out, _ := exec.Command(path, "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if line == "" {
		return path
	}
	return strings.TrimSpace(line) + " (" + path + ")"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ") + " (1, 5, 15 min)"
}
