package repotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// Line budgets of the root package: a thin front, main.go and the
// sub-commands' flag parsing and dispatch; the logic lives in packages
// (internal/daemon, internal/cli/...), the tests that run the binary in
// e2e/.
const (
	rootCodeLines = 1200 // the root package's non-test .go files
	rootTestLines = 1000 // its _test.go files
	// stepLines bounds every function of internal/daemon: Run is a
	// sequence of small steps.
	stepLines = 60
)

// TestRootBudget fails when the root package outgrows its budgets.
func TestRootBudget(t *testing.T) {
	root := testenv.ModuleRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var code, tests int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(b), "\n")
		if strings.HasSuffix(f, "_test.go") {
			tests += n
		} else {
			code += n
		}
	}
	if code == 0 || tests == 0 {
		t.Fatalf("no Go files in %s", root)
	}
	if code > rootCodeLines {
		t.Errorf("the root package has %d lines of code, more than its budget of %d: move logic into a package (internal/daemon, internal/cli/...)", code, rootCodeLines)
	}
	if tests > rootTestLines {
		t.Errorf("the root package has %d lines of tests, more than its budget of %d: tests of logic go with the logic, tests that run the binary in e2e/", tests, rootTestLines)
	}
	t.Logf("root package: %d lines of code (budget %d), %d of tests (budget %d)", code, rootCodeLines, tests, rootTestLines)
}

// TestDaemonSteps fails when a function of internal/daemon grows beyond
// stepLines.
func TestDaemonSteps(t *testing.T) {
	dir := filepath.Join(testenv.ModuleRoot(t), "internal", "daemon")
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	funcs := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			funcs++
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > stepLines {
				t.Errorf("%s:%d: %s is %d lines long, more than %d: split it into steps", filepath.Base(name), start.Line, fd.Name.Name, n, stepLines)
			}
		}
	}
	if funcs == 0 {
		t.Fatalf("no functions found in %s", dir)
	}
}
