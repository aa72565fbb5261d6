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

	"github.com/pcapdaemon/pcapdaemon/agent"
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
	bin := fs.String("pcapdaemon", "", "pcapdaemon binary (default: build it from this module)")
	tcpdump := fs.String("tcpdump", "", "tcpdump binary (default: /usr/sbin/tcpdump or /usr/bin/tcpdump)")
	ringKiB := fs.Int("B", 0, "ring size in KiB for both capturers (-B); 0 leaves each its default")
	genTimeout := fs.Duration("gen-timeout", 60*time.Second, "longest the generator sends in one run")
	settle := fs.Duration("settle", time.Second, "wait after the generator is done before interrupting a capturer")
	rss := fs.Bool("rss", true, "also measure the peak RSS of a 100 MB capture")
	shm := fs.Bool("shm", true, "also run tcpdump writing its file into tmpfs (/dev/shm), i.e. into memory")
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
		frames: *frames, rounds: *rounds, sizes: sz, bin: *bin, tcpdump: *tcpdump,
		ringKiB: *ringKiB, genTimeout: *genTimeout, settle: *settle, rss: *rss, shm: *shm, nice: *nice,
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
	sizes          []int
	bin, tcpdump   string
	ringKiB, nice  int
	genTimeout     time.Duration
	settle         time.Duration
	rss, shm       bool
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
	ours := capturer{name: "pcapdaemon", args: func(iface string, count int, filter string) []string {
		a := []string{o.bin, "capture", "-i", iface, "-c", strconv.Itoa(count), "--bytes", "0", "-w", "/dev/null"}
		a = append(a, ring()...)
		if filter != "" {
			a = append(a, filter)
		}
		return a
	}}
	tcpdumpTo := func(name, file string) capturer {
		return capturer{name: name, args: func(iface string, count int, filter string) []string {
			a := []string{o.tcpdump, "-i", iface, "-n", "-c", strconv.Itoa(count), "-w", file}
			a = append(a, ring()...)
			if filter != "" {
				a = append(a, filter)
			}
			return a
		}}
	}
	theirs := tcpdumpTo("tcpdump", "/dev/null")
	capturers := [][]capturer{{ours, theirs}, {theirs, ours}}
	if o.shm {
		// tcpdump writing into tmpfs keeps every byte in memory too, as
		// the capture does: the fair comparison of the memory's cost.
		shm, err := os.MkdirTemp("/dev/shm", "pcapd-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(shm)
		// tcpdump opens its file after dropping root for its own user.
		if err := os.Chmod(shm, 0o777); err != nil {
			return err
		}
		shmFile := filepath.Join(shm, "tcpdump.pcap")
		inMem := tcpdumpTo("tcpdump-shm", shmFile)
		inMem.after = func() { _ = os.Remove(shmFile) }
		capturers = [][]capturer{{ours, theirs, inMem}, {inMem, theirs, ours}}
	}

	fmt.Fprintf(stdout, "pcapdaemon capture vs %s, %d frames per run, %d round(s), veth %s <-> %s (netns %s)\n",
		tcpdumpVersion(o.tcpdump), o.frames, o.rounds, tb.host, tb.peer, tb.ns)
	fmt.Fprintf(stdout, "load before: %s; nice %d\n\n", loadAvg(), o.nice)
	var all []runResult
	var cfgs []config
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tround\tcapturer\tsent\tgen kpps\twanted\tcaptured\tkernel drops\tratio\tCPU s\tCPU s/M captured\tmax RSS MB\t")
	for _, size := range o.sizes {
		for _, half := range []bool{false, true} {
			cfg := config{size: size, half: half}
			cfgs = append(cfgs, cfg)
			for round := range o.rounds {
				for _, c := range capturers[round%2] {
					res, err := r.run(ctx, c, cfg, o.frames)
					if c.after != nil {
						c.after()
					}
					if err != nil {
						return fmt.Errorf("%v, round %d: %w", cfg, round+1, err)
					}
					all = append(all, res)
					fmt.Fprintf(stderr, "bench: %v, round %d, %s: %d of %d captured, %.3f CPU s\n",
						cfg, round+1, res.who, res.captured, res.want, res.cpu.Seconds())
					fmt.Fprintf(tw, "%v\t%d\t%s\t%d\t%.0f\t%d\t%d\t%d\t%.2f%%\t%.3f\t%.3f\t%.0f\t\n",
						cfg, round+1, res.who, res.sent, float64(res.sent)/res.took.Seconds()/1e3,
						res.want, res.captured, res.drops, 100*res.ratio(), res.cpu.Seconds(), res.cpuPerM(),
						float64(res.maxRSS)/1e6)
				}
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nload after: %s\n\n", loadAvg())
	summary(stdout, cfgs, all)

	if o.rss {
		res, err := r.run(ctx, capturer{name: "pcapdaemon --bytes 100000000", args: func(iface string, _ int, _ string) []string {
			return append([]string{o.bin, "capture", "-i", iface, "--bytes", "100000000", "-w", "/dev/null"}, ring()...)
		}}, config{size: 1514}, 100_000_000/(1514+16)+10_000)
		if err != nil {
			return fmt.Errorf("RSS run: %w", err)
		}
		fmt.Fprintf(stdout, "\npeak RSS of `pcapdaemon capture --bytes 100000000` (1514 B frames, %d captured, %.1f MB of pcap): %.1f MB (ru_maxrss);\n"+
			"sampled peaks: %.1f MB anonymous (buffer, heap), %.1f MB file-backed (binary text and data read, the %d KiB ring mapping)\n",
			res.captured, float64(res.captured*(1514+16)+24)/1e6, float64(res.maxRSS)/1e6,
			float64(res.peakAnon)/1e6, float64(res.peakFile)/1e6, cmp.Or(o.ringKiB, int(agent.DefaultRingBytes>>10)))
	}
	return nil
}

// summary prints, per configuration, the worst capture ratio and the
// median CPU per million frames of each capturer over the rounds, and the
// ratio of the capture's CPU to each tcpdump's.
func summary(w io.Writer, cfgs []config, all []runResult) {
	var names []string
	for _, r := range all {
		if !slices.Contains(names, r.who) {
			names = append(names, r.who)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "config\t")
	for _, n := range names {
		fmt.Fprintf(tw, "%s ratio (worst)\t%s CPU s/M (median)\t", n, n)
	}
	for _, n := range names[1:] {
		fmt.Fprintf(tw, "CPU %s/%s\t", names[0], n)
	}
	fmt.Fprintln(tw, "gen kpps (median)\t")
	for _, cfg := range cfgs {
		var rates []float64
		cpu := map[string]float64{}
		fmt.Fprintf(tw, "%v\t", cfg)
		for _, n := range names {
			var cpus []float64
			worst := math.Inf(1)
			for _, r := range all {
				if r.cfg == cfg && r.who == n {
					worst = min(worst, r.ratio())
					cpus = append(cpus, r.cpuPerM())
					rates = append(rates, float64(r.sent)/r.took.Seconds()/1e3)
				}
			}
			cpu[n] = median(cpus)
			fmt.Fprintf(tw, "%.2f%%\t%.3f\t", 100*worst, cpu[n])
		}
		for _, n := range names[1:] {
			fmt.Fprintf(tw, "%.2f\t", cpu[names[0]]/cpu[n])
		}
		fmt.Fprintf(tw, "%.0f\t\n", median(rates))
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
