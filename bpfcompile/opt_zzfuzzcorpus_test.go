package bpfcompile

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZFuzzCorpus(t *testing.T) {
	dir := os.Getenv("ZZDIR")
	if dir == "" {
		t.Skip()
	}
	res, _ := NewFileResolver(t.TempDir())
	lts := []LinkType{LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeNull, LinkTypeLoop, LinkTypeIPv4, LinkTypeIPv6}
	type r struct {
		d    time.Duration
		expr string
	}
	var rs []r
	for _, sub := range []string{"FuzzCompile", "FuzzCompileRun"} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			lines := strings.Split(string(b), "\n")
			if len(lines) < 2 || !strings.HasPrefix(lines[1], "string(") {
				continue
			}
			expr, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
			if err != nil {
				continue
			}
			for _, lt := range lts {
				for _, live := range []bool{false, true} {
					best := time.Hour
					for k := 0; k < 3; k++ {
						start := time.Now()
						Compile(expr, Options{LinkType: lt, Live: live, Resolver: res, Netmask: 0xffffff00})
						best = min(best, time.Since(start))
					}
					rs = append(rs, r{best, expr})
				}
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].d > rs[j].d })
	for _, x := range rs[:10] {
		t.Logf("%v %q", x.d, x.expr)
	}
	t.Logf("%d compiles", len(rs))
}
