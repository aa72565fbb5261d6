package repotest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// module is the module's import path; packages are named relative to it
// below ("agent", "transport/redis").
const module = "github.com/pcapdaemon/pcapdaemon"

// importRule is one of the design's import rules (docs/design.md): the
// packages it constrains, and the dependencies, direct or not, they must
// not have.
type importRule struct {
	name  string
	of    func(pkg string) bool
	bans  func(pkg, dep string) bool
	known map[string]bool // violations "pkg → dep" being removed elsewhere
}

// under reports whether pkg is dir or a package below it.
func under(pkg string, dirs ...string) bool {
	for _, d := range dirs {
		if pkg == d || strings.HasPrefix(pkg, d+"/") {
			return true
		}
	}
	return false
}

// selfContained are the packages that import no other package of the
// project but their own sub-packages (bpfcompile/internal/...).
func selfContained() []string { return []string{"bpfcompile", "afpacket", "agent/capfile"} }

// importRules are the design's import rules. They apply to the packages'
// own code: tests may import what they need to drive a package (a sink in a
// transport's end-to-end test).
func importRules() []importRule {
	return []importRule{
		{
			name: "transport never imports sink",
			of:   func(p string) bool { return under(p, "transport") },
			bans: func(_, d string) bool { return under(d, "sink") },
		},
		{
			name: "sink never imports transport",
			of:   func(p string) bool { return under(p, "sink") },
			bans: func(_, d string) bool { return under(d, "transport") },
		},
		{
			// Each takes its own options; internal/fromconfig maps the
			// configuration onto them.
			name: "agent, afpacket, bpfcompile, transport, sink, metrics and logging never import config",
			of: func(p string) bool {
				return under(p, "agent", "afpacket", "bpfcompile", "transport", "sink", "metrics", "logging")
			},
			bans: func(_, d string) bool { return under(d, "config") },
		},
		{
			name: "bpfcompile, afpacket and agent/capfile import no other package of the project but their own sub-packages",
			of:   func(p string) bool { return under(p, selfContained()...) },
			bans: func(p, d string) bool {
				for _, root := range selfContained() {
					if under(p, root) {
						return !under(d, root)
					}
				}
				return false
			},
		},
		{
			name: "agent imports no transport, sink or config",
			of:   func(p string) bool { return under(p, "agent") },
			bans: func(_, d string) bool { return under(d, "transport", "sink", "config") },
		},
	}
}

// importGraph maps each package of the module to the packages of the
// module it imports directly, as the go tool reports them (its own code,
// not its tests; CGO_ENABLED=0, as the binary is built).
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = testenv.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	g := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg := relative(f[0])
		g[pkg] = nil
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module+"/") {
				g[pkg] = append(g[pkg], relative(imp))
			}
		}
	}
	return g
}

// relative names a package of the module relative to it ("." the root).
func relative(path string) string {
	if path == module {
		return "."
	}
	return strings.TrimPrefix(path, module+"/")
}

// chains returns, for every package that pkg depends on directly or not,
// the shortest import chain from pkg to it, pkg first.
func chains(g map[string][]string, pkg string) map[string][]string {
	paths := map[string][]string{pkg: {pkg}}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, d := range g[p] {
			if _, seen := paths[d]; !seen {
				paths[d] = append(slices.Clone(paths[p]), d)
				queue = append(queue, d)
			}
		}
	}
	delete(paths, pkg)
	return paths
}

// violations returns every breach of rule in g, each as its import chain
// "a → b → c", sorted.
func violations(g map[string][]string, rule importRule) []string {
	var out []string
	for pkg := range g {
		if !rule.of(pkg) {
			continue
		}
		for dep, chain := range chains(g, pkg) {
			if rule.bans(pkg, dep) {
				out = append(out, strings.Join(chain, " → "))
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestImportRules checks the design's import rules on the module's import
// graph and names every violation with its import chain.
func TestImportRules(t *testing.T) {
	g := importGraph(t)
	for _, want := range []string{".", "agent", "afpacket", "bpfcompile", "config", "transport", "sink/local", "metrics", "logging"} {
		if _, ok := g[want]; !ok {
			t.Fatalf("go list does not list package %q: the graph is not the module's", want)
		}
	}
	for _, rule := range importRules() {
		found := map[string]bool{}
		for _, v := range violations(g, rule) {
			found[v] = true
			if rule.known[v] {
				t.Logf("%s: known violation, being removed: %s", rule.name, v)
				continue
			}
			t.Errorf("%s: %s", rule.name, v)
		}
		for v := range rule.known {
			if !found[v] {
				t.Errorf("%s: the known violation %s is gone: remove it from importRules", rule.name, v)
			}
		}
	}
}

// TestImportRulesFindViolations runs the rules on a made-up graph that
// breaks each of them, directly and through another package, and checks
// that every breach is found with its chain.
func TestImportRulesFindViolations(t *testing.T) {
	g := map[string][]string{
		".":                       {"internal/daemon"},
		"internal/daemon":         {"agent", "config", "transport/redis", "sink/s3"},
		"agent":                   {"afpacket", "agent/capfile", "bpfcompile", "sink/local"},
		"agent/capfile":           {"internal/tmpfile"},
		"afpacket":                {},
		"bpfcompile":              {"bpfcompile/internal/opt", "internal/tmpfile"},
		"bpfcompile/internal/opt": {},
		"internal/tmpfile":        {},
		"metrics":                 {"transport"},
		"transport":               {"config"},
		"transport/redis":         {"agent", "transport"},
		"sink/local":              {"agent"},
		"sink/s3":                 {"agent"},
		"config":                  {},
	}
	want := map[string][]string{
		"transport never imports sink": {"transport/redis → agent → sink/local"},
		"sink never imports transport": nil,
		"agent, afpacket, bpfcompile, transport, sink, metrics and logging never import config": {
			"metrics → transport → config", "transport → config", "transport/redis → transport → config",
		},
		"bpfcompile, afpacket and agent/capfile import no other package of the project but their own sub-packages": {"agent/capfile → internal/tmpfile", "bpfcompile → internal/tmpfile"},
		"agent imports no transport, sink or config":                                                               {"agent → sink/local"},
	}
	for _, rule := range importRules() {
		if got := violations(g, rule); !slices.Equal(got, want[rule.name]) {
			t.Errorf("%s: violations %q, want %q", rule.name, got, want[rule.name])
		}
	}
}
