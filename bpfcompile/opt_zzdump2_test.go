package bpfcompile

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// temporary: dumps optimizer outputs of long expressions.
func TestZZDumpLong(t *testing.T) {
	path := os.Getenv("OPTDUMP2")
	if path == "" {
		t.Skip()
	}
	var b strings.Builder
	for _, e := range optLongExprs() {
		for _, lt := range []LinkType{LinkTypeEthernet, LinkTypeLinuxSLL2, LinkTypeRaw} {
			prog, err := Compile(e.expr, Options{LinkType: lt})
			fmt.Fprintf(&b, "== %s %v err=%v\n", e.name, lt, err)
			for _, ins := range prog {
				fmt.Fprintf(&b, "%v\n", ins)
			}
		}
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
}
