package bpfcompile

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/bpfcompile/internal/opt"
	"github.com/pcapdaemon/pcapdaemon/internal/bpftest"
)

var updateLengths = flag.Bool("update-opt-lengths", false, "rewrite "+lengthsFile+" from this run of TestOptimizeLengths")

// lengthsFile records, for every accept entry of the conformance corpus,
// the length of the program the optimizer makes of libpcap's unoptimized
// program ("unopt") and of Compile's own output ("compile").
const lengthsFile = "testdata/optimize_lengths.txt"

// lengthKeys returns the lengths the optimizer reaches on the corpus
// today, keyed "label/unopt" and "label/compile" (-1: an error).
func lengthKeys(t *testing.T) map[string]int {
	t.Helper()
	c := confLoadCorpus(t)
	res, err := NewFileResolver(confPath(t, "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range c.Accept {
		if a.ExpectedUnopt != nil {
			unopt, err := bpftest.ParseListing(*a.ExpectedUnopt)
			if err != nil {
				t.Fatalf("%s: %v", a.Label, err)
			}
			n := -1
			prog, broken, err := optimizeReport(unopt, opt.Budget(len(unopt)))
			if err == nil {
				n = len(prog)
			}
			if broken {
				t.Errorf("%s: the optimized program fails the checker", a.Label)
			}
			got[a.Label+"/unopt"] = n
		}
		lt, ok := confLinkType(a.DLT)
		if !ok || !confIsCore(a.DLT) || a.Skip != "" || a.Special != "" {
			continue
		}
		nm, err := confNetmask(a.Netmask)
		if err != nil {
			continue
		}
		opts := Options{LinkType: lt, Snaplen: a.Snaplen, Netmask: nm, Live: a.LinuxExt, Resolver: res}
		if a.GenerateOffline != nil {
			opts.OfflineAF = true
			opts.SwappedAF = *a.GenerateOffline == "swapped"
		}
		n := -1
		if prog, err := confSafeCompile(a.Expr, opts); err == nil {
			n = len(prog)
		}
		got[a.Label+"/compile"] = n
	}
	return got
}

// TestOptimizeLengths guards the optimizer's results: no corpus program may
// come out longer than recorded in testdata/optimize_lengths.txt (a program
// that got shorter is reported; -update-opt-lengths records it).
func TestOptimizeLengths(t *testing.T) {
	got := lengthKeys(t)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if *updateLengths {
		var b strings.Builder
		b.WriteString("# Optimized program lengths of the conformance corpus (TestOptimizeLengths).\n")
		b.WriteString("# label/unopt: optimize(libpcap's unoptimized program); label/compile: Compile(expr); -1: error.\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "%s %d\n", k, got[k])
		}
		if err := os.WriteFile(lengthsFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readLengths(t)
	shorter := 0
	for _, k := range keys {
		w, ok := want[k]
		switch {
		case !ok:
			t.Errorf("%s: %d instructions, not in %s (run with -update-opt-lengths)", k, got[k], lengthsFile)
		case (w < 0) != (got[k] < 0):
			t.Errorf("%s: length %d, recorded %d (-1: error)", k, got[k], w)
		case got[k] > w:
			t.Errorf("%s: %d instructions, longer than the %d recorded", k, got[k], w)
		case got[k] < w:
			shorter++
			t.Logf("%s: %d instructions, shorter than the %d recorded", k, got[k], w)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s recorded in %s but not in the corpus", k, lengthsFile)
		}
	}
	t.Logf("%d programs, %d shorter than recorded", len(got), shorter)
}

func readLengths(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.FromSlash(lengthsFile))
	if err != nil {
		t.Fatalf("%v (run with -update-opt-lengths)", err)
	}
	defer f.Close()
	want := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %q: %v", lengthsFile, line, err)
		}
		want[k] = n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}
