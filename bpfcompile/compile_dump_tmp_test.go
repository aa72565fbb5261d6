package bpfcompile

import (
	"os"
	"strings"
	"testing"
)

func TestDumpTmp(t *testing.T) {
	exprs := os.Getenv("BPFC_EXPRS")
	if exprs == "" {
		t.Skip()
	}
	lt := LinkTypeEthernet
	if os.Getenv("BPFC_DLT") == "RAW" {
		lt = LinkTypeRaw
	}
	for _, e := range strings.Split(exprs, ";") {
		p, err := Compile(e, Options{LinkType: lt, NoOptimize: true, Live: os.Getenv("BPFC_LIVE") != ""})
		if err != nil {
			t.Logf("%s: %v", e, err)
			continue
		}
		s, _ := Listing(p)
		t.Logf("%s:\n%s", e, s)
	}
}
