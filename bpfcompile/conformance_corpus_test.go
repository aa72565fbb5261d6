package bpfcompile

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// confDir is libpcap's filter test suite as data, relative to this
// package's directory (the repository is checked out beside shared/).
const confDir = "../../shared/conformance"

// confCorpus is libpcap-filter-tests.json (see its README.md).
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

// confLinkType maps a core DLT name (pcap_datalink_name_to_val without
// DLT_) to the Options link type.
func confLinkType(dlt string) (LinkType, bool) {
	switch dlt {
	case "EN10MB":
		return LinkTypeEthernet, true
	case "RAW":
		return LinkTypeRaw, true
	case "IPV4":
		return LinkTypeIPv4, true
	case "IPV6":
		return LinkTypeIPv6, true
	case "LINUX_SLL":
		return LinkTypeLinuxSLL, true
	case "LINUX_SLL2":
		return LinkTypeLinuxSLL2, true
	case "NULL":
		return LinkTypeNull, true
	case "LOOP":
		return LinkTypeLoop, true
	}
	return 0, false
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

// confPath returns the path of a file of the conformance corpus and
// fails the test clearly when the corpus is not where CI puts it.
func confPath(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := filepath.Abs(confDir)
	if err != nil {
		t.Fatalf("conformance corpus: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "libpcap-filter-tests.json")); err != nil {
		t.Fatalf("conformance corpus not found at %s (expected the repository checked out with shared/ beside it): %v", dir, err)
	}
	return filepath.Join(append([]string{dir}, elem...)...)
}

// confLoadCorpus reads and parses the corpus or fails the test.
func confLoadCorpus(t testing.TB) *confCorpus {
	t.Helper()
	b, err := os.ReadFile(confPath(t, "libpcap-filter-tests.json"))
	if err != nil {
		t.Fatalf("conformance corpus: %v", err)
	}
	var c confCorpus
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("conformance corpus: libpcap-filter-tests.json: %v", err)
	}
	return &c
}

// confIsCore reports whether dlt is one of confCoreDLTs.
func confIsCore(dlt string) bool {
	_, ok := confLinkType(dlt)
	return ok
}
