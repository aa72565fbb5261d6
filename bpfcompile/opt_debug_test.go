package bpfcompile

import (
	"os"
	"strings"
	"testing"
)

// TestOptimizeShow prints the programs of the corpus entry named by
// $OPTLABEL: unoptimized, libpcap's optimized and ours (a debugging aid).
func TestOptimizeShow(t *testing.T) {
	want := os.Getenv("OPTLABEL")
	if want == "" {
		t.Skip("set OPTLABEL to a corpus accept label")
	}
	for _, c := range optLoadAccept(t) {
		if c.Label != want {
			continue
		}
		unopt, err := ParseListing(c.ExpectedUnopt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := optimize(unopt)
		if err != nil {
			t.Fatal(err)
		}
		lib := "(rejects all)"
		if c.ExpectedOpt != nil {
			lib = strings.TrimSpace(*c.ExpectedOpt)
		}
		t.Logf("%s\n--unopt\n%s\n--libpcap\n%s\n--ours\n%s", c.Expr, c.ExpectedUnopt, lib, listingText(t, got, false))
	}
}
