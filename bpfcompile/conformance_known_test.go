package bpfcompile

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// confUpdate rewrites the known-failures list from the run. (Named
// apart from the package's golden-file -update flags, so that the two can
// be used separately; -update, if another test file defines it, works too.)
var confUpdate = flag.Bool("update-conformance", false, "rewrite "+confKnownFailuresFile+" from this run of TestConformance")

// confKnownFailuresFile lists the conformance cases that fail today, one a line:
// "label<TAB>reason". A case not listed must pass; a listed case must fail.
const confKnownFailuresFile = "testdata/conformance-known-failures.txt"

// confWantUpdate reports whether the run should rewrite the list.
func confWantUpdate() bool {
	if *confUpdate {
		return true
	}
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// confReadKnown reads the list; a missing file is an empty list.
func confReadKnown(path string) (map[string]string, error) {
	known := map[string]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return known, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, reason, _ := strings.Cut(line, "\t")
		if _, dup := known[label]; dup {
			return nil, fmt.Errorf("%s:%d: %s listed twice", path, n, label)
		}
		known[label] = reason
	}
	return known, sc.Err()
}

// confWriteKnown writes the failing outcomes, sorted by label.
func confWriteKnown(path string, outcomes []confOutcome) error {
	var b strings.Builder
	b.WriteString("# Conformance cases that fail today: label<TAB>reason. Written by\n")
	b.WriteString("# go test ./bpfcompile/ -run TestConformance -update-conformance\n")
	b.WriteString("# A case listed here must fail and a case not listed must pass.\n")
	b.WriteString("# \"optimizer:\" the unoptimized program is libpcap's, the optimized one is not\n")
	b.WriteString("# (for the link types without a packet corpus, the listing differs; the\n")
	b.WriteString("# reason says whether verdicts differ on the packets the explorer makes).\n")
	var lines []string
	for _, o := range outcomes {
		if !o.pass {
			reason := strings.Map(func(r rune) rune {
				if r == '\n' || r == '\t' {
					return ' '
				}
				return r
			}, o.reason)
			if len(reason) > 200 {
				reason = reason[:200] + "…"
			}
			lines = append(lines, o.label+"\t"+reason)
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// confCompareKnown fails t for every case whose outcome differs from
// the list: a new failure (regression) or a listed case that now passes.
func confCompareKnown(t *testing.T, outcomes []confOutcome) {
	t.Helper()
	if confWantUpdate() {
		if err := confWriteKnown(confKnownFailuresFile, outcomes); err != nil {
			t.Fatalf("writing %s: %v", confKnownFailuresFile, err)
		}
		t.Logf("wrote %s", confKnownFailuresFile)
		return
	}
	known, err := confReadKnown(confKnownFailuresFile)
	if err != nil {
		t.Fatalf("reading known failures: %v", err)
	}
	var regressions, fixed []string
	seen := map[string]bool{}
	for _, o := range outcomes {
		seen[o.label] = true
		_, listed := known[o.label]
		switch {
		case !o.pass && !listed:
			regressions = append(regressions, fmt.Sprintf("%s: %s", o.label, o.reason))
		case o.pass && listed:
			fixed = append(fixed, o.label)
		}
	}
	var stale []string
	for label := range known {
		if !seen[label] {
			stale = append(stale, label)
		}
	}
	report := func(what string, items []string) {
		if len(items) == 0 {
			return
		}
		slices.Sort(items)
		shown := items[:min(len(items), 40)]
		t.Errorf("%d %s:\n\t%s%s", len(items), what, strings.Join(shown, "\n\t"),
			map[bool]string{true: fmt.Sprintf("\n\t… and %d more", len(items)-len(shown)), false: ""}[len(items) > len(shown)])
	}
	report("cases fail that are not in "+confKnownFailuresFile+" (regressions)", regressions)
	report("cases pass that are listed in "+confKnownFailuresFile+": remove them (or run with -update-conformance)", fixed)
	report("labels in "+confKnownFailuresFile+" that are no case of the corpus", stale)
}
