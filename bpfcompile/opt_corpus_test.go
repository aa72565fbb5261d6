package bpfcompile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// optAcceptCase is the part of a conformance accept entry the optimizer and
// listing tests use.
type optAcceptCase struct {
	Label            string  `json:"label"`
	DLT              string  `json:"DLT"`
	Expr             string  `json:"expr"`
	Snaplen          int     `json:"snaplen"`
	LinuxExt         bool    `json:"linuxext"`
	Skip             string  `json:"skip"`
	OptimizerRejects bool    `json:"optimizer_rejects"`
	ExpectedOpt      *string `json:"expected_opt"`
	ExpectedUnopt    string  `json:"expected_unopt"`
}

// optConformanceDir finds ../shared/conformance (the repository's sibling
// directory), or the directory PCAPDAEMON_CONFORMANCE names.
func optConformanceDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("PCAPDAEMON_CONFORMANCE"); d != "" {
		return d
	}
	d, err := filepath.Abs(filepath.Join("..", "..", "shared", "conformance"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "libpcap-filter-tests.json")); err != nil {
		tb.Skipf("conformance corpus not found (set PCAPDAEMON_CONFORMANCE): %v", err)
	}
	return d
}

var optCorpusOnce struct {
	sync.Once
	cases []optAcceptCase
	err   error
}

// optLoadAccept returns every accept entry of the conformance corpus.
func optLoadAccept(tb testing.TB) []optAcceptCase {
	tb.Helper()
	dir := optConformanceDir(tb)
	optCorpusOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join(dir, "libpcap-filter-tests.json"))
		if err != nil {
			optCorpusOnce.err = err
			return
		}
		var doc struct {
			Accept []optAcceptCase `json:"accept"`
		}
		optCorpusOnce.err = json.Unmarshal(b, &doc)
		optCorpusOnce.cases = doc.Accept
	})
	if optCorpusOnce.err != nil {
		tb.Fatalf("loading corpus: %v", optCorpusOnce.err)
	}
	return optCorpusOnce.cases
}
