package bpfcompile

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

type ccAccept struct {
	Label         string  `json:"label"`
	DLT           string  `json:"DLT"`
	Expr          string  `json:"expr"`
	Snaplen       int     `json:"snaplen"`
	Netmask       *string `json:"netmask"`
	Linuxext      bool    `json:"linuxext"`
	Offline       *string `json:"generate_offline_filter"`
	Skip          string  `json:"skip"`
	OptRejects    bool    `json:"optimizer_rejects"`
	ExpectedUnopt string  `json:"expected_unopt"`
	ExpectedOpt   *string `json:"expected_opt"`
	Special       string  `json:"special"`
}

type ccReject struct {
	Label   string  `json:"label"`
	DLT     string  `json:"DLT"`
	Expr    *string `json:"expr"`
	Netmask *string `json:"netmask"`
	Errstr  string  `json:"errstr"`
	Skip    string  `json:"skip"`
}

type ccFile struct {
	Accept []ccAccept `json:"accept"`
	Reject []ccReject `json:"reject"`
}

func ccLoadCorpus(t testing.TB) *ccFile {
	t.Helper()
	b := confReadTests(t)
	var c ccFile
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("corpus: %v", err)
	}
	return &c
}

func ccResolver(t testing.TB) Resolver {
	t.Helper()
	r, err := NewFileResolver(confPath(t, "fixtures"))
	if err != nil {
		t.Fatalf("fixtures: %v", err)
	}
	return r
}

func ccNetmask(s *string) uint32 {
	if s == nil {
		return NetmaskUnknown
	}
	var a, b, c, d uint32
	fmt.Sscanf(*s, "%d.%d.%d.%d", &a, &b, &c, &d)
	return a<<24 | b<<16 | c<<8 | d
}

func ccOptions(a ccAccept, res Resolver) Options {
	lt, _ := confLinkType(a.DLT)
	o := Options{LinkType: lt, Snaplen: a.Snaplen, Netmask: ccNetmask(a.Netmask),
		Live: a.Linuxext, Resolver: res}
	if a.Offline != nil {
		o.OfflineAF = true
		o.SwappedAF = *a.Offline == "swapped"
	}
	return o
}

// TestCorpusUnoptimized compiles every corpus accept entry without the
// optimizer: each must compile. How many match
// libpcap's unoptimized listing instruction for instruction is reported.
func TestCorpusUnoptimized(t *testing.T) {
	c := ccLoadCorpus(t)
	res := ccResolver(t)
	type count struct{ total, compiled, same int }
	per := map[string]*count{}
	var fails, diffs []string
	for _, a := range c.Accept {
		if _, ok := confLinkType(a.DLT); !ok || a.Skip != "" || a.Special != "" {
			continue
		}
		cnt := per[a.DLT]
		if cnt == nil {
			cnt = &count{}
			per[a.DLT] = cnt
		}
		cnt.total++
		o := ccOptions(a, res)
		o.NoOptimize = true
		prog, err := Compile(a.Expr, o)
		if err != nil {
			fails = append(fails, fmt.Sprintf("%s %s %q: %v", a.Label, a.DLT, a.Expr, err))
			continue
		}
		cnt.compiled++
		got, err := Listing(prog)
		if err != nil {
			fails = append(fails, fmt.Sprintf("%s: listing: %v", a.Label, err))
			continue
		}
		if got == a.ExpectedUnopt {
			cnt.same++
		} else {
			diffs = append(diffs, fmt.Sprintf("%s %s %q\n--- want\n%s--- got\n%s", a.Label, a.DLT, a.Expr, a.ExpectedUnopt, got))
		}
	}
	var dlts []string
	for d := range per {
		dlts = append(dlts, d)
	}
	sort.Strings(dlts)
	for _, d := range dlts {
		c := per[d]
		t.Logf("%-10s entries %4d compiled %4d same-as-libpcap-unopt %4d", d, c.total, c.compiled, c.same)
	}
	if os.Getenv("BPFC_SHOW_DIFFS") != "" {
		for _, d := range diffs {
			t.Log(d)
		}
	}
	for _, f := range fails {
		t.Error(f)
	}
	t.Logf("%d listings differ (BPFC_SHOW_DIFFS=1 shows them)", len(diffs))
}

// TestCorpusRejects compiles every corpus reject entry: each must fail,
// and the message must contain libpcap's wording.
func TestCorpusRejects(t *testing.T) {
	c := ccLoadCorpus(t)
	res := ccResolver(t)
	total, ok := 0, 0
	var bad []string
	for _, r := range c.Reject {
		lt, known := confLinkType(r.DLT)
		if !known || r.Skip != "" || r.Expr == nil {
			continue
		}
		total++
		_, err := Compile(*r.Expr, Options{LinkType: lt, Snaplen: 262144, Netmask: ccNetmask(r.Netmask), Resolver: res})
		switch {
		case err == nil:
			bad = append(bad, fmt.Sprintf("%s %s %q: compiled, want error %q", r.Label, r.DLT, *r.Expr, r.Errstr))
		case !strings.Contains(err.Error(), r.Errstr):
			bad = append(bad, fmt.Sprintf("%s %s %q: error %q, want %q", r.Label, r.DLT, *r.Expr, err, r.Errstr))
		default:
			ok++
		}
	}
	t.Logf("reject entries %d, rejected with libpcap's wording %d", total, ok)
	for _, b := range bad {
		t.Error(b)
	}
}
