package bpfcompile

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// temporary: dumps full optimizer outputs for comparison during development.
func TestZZDumpOpt(t *testing.T) {
	path := os.Getenv("OPTDUMP")
	if path == "" {
		t.Skip()
	}
	c := confLoadCorpus(t)
	res, _ := NewFileResolver(confPath(t, "fixtures"))
	var b strings.Builder
	for _, a := range c.Accept {
		if a.ExpectedUnopt != nil {
			unopt, _ := ParseListing(*a.ExpectedUnopt)
			prog, err := optimize(unopt)
			fmt.Fprintf(&b, "== %s/unopt err=%v\n", a.Label, err)
			for _, ins := range prog {
				fmt.Fprintf(&b, "%v\n", ins)
			}
		}
		lt, ok := confLinkType(a.DLT)
		if !ok || a.Skip != "" || a.Special != "" {
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
		prog, err := confSafeCompile(a.Expr, opts)
		fmt.Fprintf(&b, "== %s/compile err=%v\n", a.Label, err)
		for _, ins := range prog {
			fmt.Fprintf(&b, "%v\n", ins)
		}
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
}
