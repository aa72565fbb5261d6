package bpftest

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/conformance"
)

// AcceptCase is the part of an accept entry of libpcap's filter tests that
// the optimizer's and the listing parser's tests use: an expression, the
// link type it is compiled for, and libpcap's programs for it as tcpdump
// -d prints them.
type AcceptCase struct {
	Label            string  `json:"label"`
	DLT              string  `json:"DLT"`
	Expr             string  `json:"expr"`
	Snaplen          int     `json:"snaplen"`
	LinuxExt         bool    `json:"linuxext"`
	Skip             string  `json:"skip"`
	OptimizerRejects bool    `json:"optimizer_rejects"`
	ExpectedOpt      *string `json:"expected_opt"` // nil: the optimizer rejects every packet
	ExpectedUnopt    string  `json:"expected_unopt"`
}

// loadAccept reads the accept entries once per test binary: the corpus
// is 7 MB of JSON that several tests read.
var loadAccept = sync.OnceValues(func() ([]AcceptCase, error) {
	b, err := conformance.ReadTests()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Accept []AcceptCase `json:"accept"`
	}
	err = json.Unmarshal(b, &doc)
	return doc.Accept, err
})

// Accept returns every accept entry of libpcap's filter tests (see
// internal/conformance), or fails the test.
func Accept(tb testing.TB) []AcceptCase {
	tb.Helper()
	cases, err := loadAccept()
	if err != nil {
		tb.Fatalf("loading corpus: %v", err)
	}
	return cases
}
