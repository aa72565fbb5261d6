package capfile

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestImports keeps the package at the bottom of the agent: it stores
// capture files and imports no package of the project (no request, sink,
// transport or configuration), on every system it builds for.
func TestImports(t *testing.T) {
	allowed := func(path string) bool {
		return !strings.Contains(path, ".") || path == "golang.org/x/sys/unix"
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatalf("%s: %v", goos, err)
		}
		for _, path := range pkg.Imports {
			if !allowed(path) {
				t.Errorf("%s: capfile imports %s; it must import only the standard library and golang.org/x/sys/unix", goos, path)
			}
		}
		if goos != "linux" && slices.Contains(pkg.Imports, "golang.org/x/sys/unix") {
			t.Errorf("%s: capfile imports golang.org/x/sys/unix outside Linux", goos)
		}
	}
}
