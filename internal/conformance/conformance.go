// Package conformance finds libpcap's filter test suite, which the
// repository carries as data in testdata/conformance at the module root
// (see testdata/README.md for what each file is and where it came from).
// The tests of bpfcompile and of the pcapdaemon command read it through
// this package, so that every one of them opens the same files, inside the
// repository, from whichever package directory it runs in.
package conformance

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrNoModuleRoot is returned when no directory at or above the working
// directory holds go.mod, so the repository's testdata cannot be found.
var ErrNoModuleRoot = errors.New("no go.mod at or above the working directory")

// Dir is the corpus directory, relative to the module root.
const Dir = "testdata/conformance"

// TestsFile is libpcap's filter tests as JSON, gzip-compressed (the JSON
// is 6.9 MB, the .gz a twentieth of that).
const TestsFile = "libpcap-filter-tests.json.gz"

// ModuleRoot returns the nearest directory at or above the working
// directory that holds go.mod. Go runs a package's tests in the package's
// directory, so this is the repository's root for every package of it.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("conformance: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("conformance: %w", ErrNoModuleRoot)
		}
		dir = parent
	}
}

// Path returns the path of a file of the corpus, elem joined under Dir at
// the module root, and an error naming the path when it does not exist.
func Path(elem ...string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{root, Dir}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("conformance: %w", err)
	}
	return p, nil
}

// ReadTests returns libpcap-filter-tests.json, decompressed from TestsFile.
func ReadTests() ([]byte, error) {
	p, err := Path(TestsFile)
	if err != nil {
		return nil, err
	}
	gz, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("conformance: %s: %w", p, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("conformance: %s: %w", p, err)
	}
	return b, nil
}
