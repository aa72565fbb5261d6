package repotest

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapdaemon/pcapdaemon/internal/testenv"
)

// TestRepositorySelfContained fails when a file of the repository points
// outside it. A user clones the repository with nothing beside it, and its
// tests must find everything they read inside it (testdata/README.md).
// .ci/run proves that by running the suite in such a copy; this test names
// the line at fault:
//
//   - no file mentions the sibling directory the test data once came from,
//     nor a path of the machine it was made on;
//   - no Go file (tests and their helpers above all) names a relative path
//     that climbs out of the module, resolved against the file's
//     directory: a constant or variable initialised with a string starting
//     "../", a string literal passed to a function of os, io/fs, io/ioutil,
//     path or path/filepath, or the leading literal arguments of
//     filepath.Join or path.Join. (Strings that are data, such as hostile
//     request fields in a table, are not paths and are left alone.)
func TestRepositorySelfContained(t *testing.T) {
	root := testenv.ModuleRoot(t)
	// Built from pieces, so that this file does not match itself.
	banned := []string{".." + "/shared", "/work" + "/shared", "/work" + "/main", "/work" + "/wt/"}

	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" { // a directory, or a worktree's pointer file
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(b[:min(len(b), 8000)], 0) >= 0 {
			return nil // binary: a capture, a compressed file
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, s := range banned {
				if strings.Contains(line, s) {
					t.Errorf("%s:%d: mentions %q, outside the repository", rel, i+1, s)
				}
			}
		}
		if strings.HasSuffix(p, ".go") && !inTestdata(rel) {
			for _, e := range climbingPaths(t, root, rel, b) {
				t.Error(e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// inTestdata reports whether rel lies in a testdata directory, which the go
// tool ignores.
func inTestdata(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if part == "testdata" {
			return true
		}
	}
	return false
}

// climbingPaths parses the Go file rel (relative to root) and returns, one
// per finding, the relative paths in it that resolve to a place outside
// root.
func climbingPaths(t *testing.T, root, rel string, src []byte) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parsing %s: %v", rel, err)
	}
	dir := filepath.Join(root, filepath.Dir(rel))
	var out []string
	check := func(pos token.Pos, rel string) {
		abs := filepath.Join(dir, filepath.FromSlash(rel))
		r, err := filepath.Rel(root, abs)
		if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			out = append(out, fset.Position(pos).String()+": path "+strconv.Quote(rel)+" climbs out of the repository")
		}
	}
	climbs := func(e ast.Expr) {
		if s, ok := stringLit(e); ok && strings.HasPrefix(s, "../") {
			check(e.Pos(), s)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for _, v := range n.Values {
				climbs(v)
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			switch pkg.Name {
			case "os", "fs", "ioutil", "path", "filepath":
				for _, a := range n.Args {
					climbs(a)
				}
			}
			if sel.Sel.Name != "Join" || (pkg.Name != "filepath" && pkg.Name != "path") {
				return true
			}
			var lead []string
			for _, a := range n.Args {
				s, ok := stringLit(a)
				if !ok {
					break
				}
				lead = append(lead, s)
			}
			if j := filepath.Join(lead...); j == ".." || strings.HasPrefix(j, "../") {
				check(n.Pos(), filepath.ToSlash(j))
			}
		}
		return true
	})
	return out
}

// stringLit returns the value of e when it is a string literal.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
