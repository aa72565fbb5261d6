package bpfcompile

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/conformance"
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

var optCorpusOnce struct {
	sync.Once
	cases []optAcceptCase
	err   error
}

// optLoadAccept returns every accept entry of the conformance corpus.
func optLoadAccept(tb testing.TB) []optAcceptCase {
	tb.Helper()
	optCorpusOnce.Do(func() {
		b, err := conformance.ReadTests()
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
