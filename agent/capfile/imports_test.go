package capfile

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package at the bottom of the agent: it stores
// capture files and imports no package of the project (no request, sink,
// transport or configuration), and nothing but the standard library (only
// afpacket touches golang.org/x/sys/unix), on every system it builds for.
func TestImports(t *testing.T) {
	allowed := func(path string) bool { return !strings.Contains(path, ".") }
	for _, goos := range []string{"linux", "darwin", "windows"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		if err != nil {
			t.Fatalf("%s: %v", goos, err)
		}
		for _, path := range pkg.Imports {
			if !allowed(path) {
				t.Errorf("%s: capfile imports %s; it must import only the standard library", goos, path)
			}
		}
	}
}
