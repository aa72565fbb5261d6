package bpfcompile

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/conformance"
)

// confCorpus is libpcap-filter-tests.json, libpcap's filter test suite as
// data (testdata/conformance at the module root; see testdata/README.md).
type confCorpus struct {
	Source string       `json:"source"`
	Accept []confAccept `json:"accept"`
	Apply  []confApply  `json:"apply"`
	Reject []confReject `json:"reject"`
}

type confAccept struct {
	Label            string   `json:"label"`
	Name             string   `json:"name"`
	DLT              string   `json:"DLT"`
	Expr             string   `json:"expr"`
	Snaplen          int      `json:"snaplen"`
	Netmask          *string  `json:"netmask"`
	LinuxExt         bool     `json:"linuxext"`
	GenerateOffline  *string  `json:"generate_offline_filter"`
	Skip             string   `json:"skip"`
	Requires         []string `json:"requires"`
	OptimizerRejects bool     `json:"optimizer_rejects"`
	ExpectedOpt      *string  `json:"expected_opt"`
	ExpectedUnopt    *string  `json:"expected_unopt"`
	Special          string   `json:"special"`
}

type confApply struct {
	Label           string   `json:"label"`
	Name            string   `json:"name"`
	Expr            string   `json:"expr"`
	Savefile        string   `json:"savefile"`
	SavefileDLT     string   `json:"savefile_dlt"`
	SavefileLinkTyp int      `json:"savefile_linktype"`
	Netmask         *string  `json:"netmask"`
	Skip            string   `json:"skip"`
	Requires        []string `json:"requires"`
	Results         []uint32 `json:"results"`
}

type confReject struct {
	Label    string   `json:"label"`
	Name     string   `json:"name"`
	DLT      *string  `json:"DLT"`
	Expr     *string  `json:"expr"`
	Netmask  *string  `json:"netmask"`
	Errstr   string   `json:"errstr"`
	Skip     string   `json:"skip"`
	Requires []string `json:"requires"`
	Savefile *string  `json:"savefile"`
}

// confCoreDLTs are the link types a Linux capture host produces, in the order
// the conformance table prints them.
var confCoreDLTs = []string{"EN10MB", "RAW", "IPV4", "IPV6", "LINUX_SLL", "LINUX_SLL2", "NULL", "LOOP"}

// confLinkType maps a corpus DLT name (pcap_datalink_name_to_val without
// DLT_) to the Options link type, and says whether Compile generates code
// for it.
func confLinkType(dlt string) (LinkType, bool) {
	lt, ok := LinkTypeByName(dlt)
	if !ok {
		return 0, false
	}
	if _, ok := linkLayerRow(lt); !ok {
		return 0, false
	}
	return lt, true
}

// confNetmask turns a corpus netmask (null: unknown) into Options.Netmask.
func confNetmask(s *string) (uint32, error) {
	if s == nil {
		return NetmaskUnknown, nil
	}
	a, err := netip.ParseAddr(*s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("netmask %q: not an IPv4 address", *s)
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// confPath returns the path of a file or directory of the conformance
// corpus (in the repository's testdata) or fails the test.
func confPath(t testing.TB, elem ...string) string {
	t.Helper()
	p, err := conformance.Path(elem...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// confReadTests returns libpcap-filter-tests.json or fails the test.
func confReadTests(t testing.TB) []byte {
	t.Helper()
	b, err := conformance.ReadTests()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// confLoadCorpus reads and parses the corpus or fails the test.
func confLoadCorpus(t testing.TB) *confCorpus {
	t.Helper()
	b := confReadTests(t)
	var c confCorpus
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("conformance corpus: libpcap-filter-tests.json: %v", err)
	}
	return &c
}

// confIsCore reports whether dlt is one of confCoreDLTs.
func confIsCore(dlt string) bool { return slices.Contains(confCoreDLTs, dlt) }
