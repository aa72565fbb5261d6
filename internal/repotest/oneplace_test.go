package repotest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// onePlace is knowledge the project keeps in one place: a pattern that may
// appear in the non-test code of the packages under home only.
type onePlace struct {
	what    string
	pattern *regexp.Regexp
	home    []string // directories (module-relative) where it belongs
}

func onePlaces() []onePlace {
	return []onePlace{{
		// pcap link-type names (as pcap_datalink_val_to_name spells them)
		// are bpfcompile's link-type table; everyone else asks it. NULL
		// is left out: it is a DNS record type too (pktsummary's table).
		what:    "a link-type name",
		pattern: regexp.MustCompile(`"(EN10MB|LINUX_SLL2?|IEEE802_11(_RADIO)?|LOOP|RAW|IPV4|IPV6)"`),
		home:    []string{"bpfcompile", "internal/bpftest"}, // bpftest: test data per link type
	}, {
		// Exponential backoff (a delay doubled or multiplied up to a cap)
		// is internal/retry's; callers hold a retry.Policy or Backoff.
		what:    "hand-written backoff arithmetic",
		pattern: regexp.MustCompile(`(?i)backoff\s*=\s*min\(|backoff\s*\*=\s*2|\bbackoff\s*<<=`),
		home:    []string{"internal/retry"},
	}}
}

// TestOnePlace fails when knowledge the project keeps in one place is
// written again elsewhere (issue 11: link-type names were written five
// times, backoff three).
func TestOnePlace(t *testing.T) {
	root := testenv.ModuleRoot(t)
	for _, op := range onePlaces() {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || within(rel, op.home) {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(b), "\n") {
				if op.pattern.MatchString(line) {
					t.Errorf("%s:%d: %s outside %v: %s", rel, i+1, op.what, op.home, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func within(rel string, dirs []string) bool {
	for _, d := range dirs {
		if rel == d || strings.HasPrefix(rel, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
