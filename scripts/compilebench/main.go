package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compilebench:", err)
		os.Exit(1)
	}
}

// errGoal is returned with -check when a goal is missed.
var errGoal = errors.New("goal missed")

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("compilebench", flag.ContinueOnError)
	libpcap := fs.String("libpcap-bench", "", "the C benchmark, scripts/libpcap/bench.c built against libpcap")
	turns := fs.Int("turns", 5, "turns each side takes")
	round := fs.Duration("round", 20*time.Millisecond, "CPU time of a round of compiles")
	check := fs.Bool("check", false, "exit 1 when the typical filters' median ratio is above 2 or a long chain is slower than libpcap's")
	repeat := fs.Int("repeat", -1, "compile each typical filter (or -expr) this many times, time nothing and print nothing: for valgrind --tool=callgrind")
	expr := fs.String("expr", "", "with -repeat: the expression to compile instead of the typical filters")
	cpuprofile := fs.String("cpuprofile", "", "with -repeat: write a CPU profile of the compiles to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repeat >= 0 {
		return profileRepeatedly(*cpuprofile, *expr, *repeat)
	}
	if *turns < 1 || *turns > 100 {
		return fmt.Errorf("-turns %d: want 1 to 100", *turns)
	}
	cases := bpftest.SpeedCases()
	lib := make([][]float64, len(cases))
	ours := make([][]float64, len(cases))
	libLen := make([]string, len(cases))
	var in strings.Builder
	for i, c := range cases {
		fmt.Fprintf(&in, "%d\tEN10MB\t%s\n", i, c.Expr)
	}
	for turn := 0; turn < *turns; turn++ {
		if *libpcap != "" {
			if err := benchLibpcap(*libpcap, in.String(), *round, lib, libLen); err != nil {
				return err
			}
		}
		for i, c := range cases {
			d, err := timeCompile(c.Expr, *round)
			if err != nil {
				return err
			}
			ours[i] = append(ours[i], float64(d))
		}
	}
	fmt.Fprintf(out, "| filter | libpcap µs | ours µs | ratio | libpcap insns | ours insns | ours allocs |\n|---|---|---|---|---|---|---|\n")
	var ratios []float64
	missed := false
	for i, c := range cases {
		o := slices.Min(ours[i]) / 1e3
		length := "error"
		if prog, err := bpfcompile.Compile(c.Expr, options()); err == nil {
			length = strconv.Itoa(len(prog))
		}
		allocs := allocsPerCompile(c.Expr)
		if *libpcap == "" {
			fmt.Fprintf(out, "| `%s` | - | %.1f | - | - | %s | %d |\n", c.Name, o, length, allocs)
			continue
		}
		l := slices.Min(lib[i]) / 1e3
		r := o / l
		fmt.Fprintf(out, "| `%s` | %.1f | %.1f | %.2f | %s | %s | %d |\n", c.Name, l, o, r, libLen[i], length, allocs)
		if c.Long {
			missed = missed || r > 1
		} else {
			ratios = append(ratios, r)
		}
	}
	if *libpcap != "" {
		slices.Sort(ratios)
		m := ratios[len(ratios)/2]
		if len(ratios)%2 == 0 {
			m = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
		}
		fmt.Fprintf(out, "\nmedian ratio over the %d typical filters: %.2f\n", len(ratios), m)
		missed = missed || m > 2
	}
	if *check && missed {
		return errGoal
	}
	return nil
}

// profileRepeatedly runs compileRepeatedly, under the CPU profiler when
// path is set.
func profileRepeatedly(path, expr string, n int) (err error) {
	if path == "" {
		return compileRepeatedly(expr, n)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("cpu profile: %w", cerr)
		}
	}()
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer pprof.StopCPUProfile()
	return compileRepeatedly(expr, n)
}

// compileRepeatedly compiles expr, or else every typical filter, n times
// each: a run whose instructions valgrind's callgrind counts (the count of
// a run with n = 0 taken away leaves n compiles' work).
func compileRepeatedly(expr string, n int) error {
	var exprs []string
	if expr != "" {
		exprs = []string{expr}
	} else {
		for _, c := range bpftest.SpeedCases() {
			if !c.Long {
				exprs = append(exprs, c.Expr)
			}
		}
	}
	for _, e := range exprs {
		for range n {
			if _, err := bpfcompile.Compile(e, options()); err != nil {
				return err
			}
		}
	}
	return nil
}

// options are the compile options of every case: Ethernet, netmask
// unknown, as the C benchmark's pcap_open_dead and pcap_compile.
func options() bpfcompile.Options {
	return bpfcompile.Options{LinkType: bpfcompile.LinkTypeEthernet, Netmask: bpfcompile.NetmaskUnknown}
}

// benchLibpcap runs the C benchmark once over every case and appends its
// times (ns) and program lengths.
func benchLibpcap(path, input string, round time.Duration, times [][]float64, lengths []string) error {
	cmd := exec.Command(path, "-r", "3", "-t", strconv.Itoa(int(round/time.Millisecond)))
	cmd.Stdin = strings.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", path, err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		i, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 3 || i < 0 || i >= len(times) {
			return fmt.Errorf("%s: bad output line %q", path, sc.Text())
		}
		if f[1] == "error" {
			lengths[i] = "error: " + f[2]
			times[i] = append(times[i], 0)
			continue
		}
		ns, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return fmt.Errorf("%s: bad time in %q", path, sc.Text())
		}
		times[i] = append(times[i], ns)
		lengths[i] = f[2]
	}
	return sc.Err()
}

// allocsPerCompile returns the heap allocations one Compile of expr
// makes: each costs time of its own and brings the next garbage
// collection nearer, so the table shows them beside the times.
func allocsPerCompile(expr string) uint64 {
	const n = 20
	_, _ = bpfcompile.Compile(expr, options()) // warm whatever is made once
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		_, _ = bpfcompile.Compile(expr, options())
	}
	runtime.ReadMemStats(&after)
	return (after.Mallocs - before.Mallocs + n/2) / n
}

// cpuTime returns the CPU time the process has used (user and system, all
// threads: the garbage collector's work included).
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// timeCompile returns the CPU time one Compile of expr takes: the median
// of three rounds of at least round each. Errors are timed too (a program
// too long): the table shows them.
func timeCompile(expr string, round time.Duration) (time.Duration, error) {
	var per [3]time.Duration
	for r := range per {
		start, err := cpuTime()
		if err != nil {
			return 0, err
		}
		// The clock is read after batches of compiles that double in
		// size: reading it is a system call, about as long as compiling
		// a short filter.
		n := 0
		for batch := 1; ; batch *= 2 {
			for range batch {
				_, _ = bpfcompile.Compile(expr, options())
			}
			n += batch
			now, err := cpuTime()
			if err != nil {
				return 0, err
			}
			if el := now - start; el >= round {
				per[r] = el / time.Duration(n)
				break
			}
		}
	}
	slices.Sort(per[:])
	return per[1], nil
}
